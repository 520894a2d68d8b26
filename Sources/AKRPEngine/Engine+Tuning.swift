extension Engine {
    /// Changes admission settings of a running engine (the management interface's settings group). Only
    /// what admission reads on each request changes; sizes and tables stay as built. Values are taken as
    /// given (the caller validates ranges).
    public func tuneAdmission(latencyBudget: Nanoseconds? = nil, yieldMargin: Nanoseconds? = nil) {
        if let latencyBudget { configuration.latencyBudget = latencyBudget }
        if let yieldMargin { configuration.yieldMargin = yieldMargin }
    }
}
