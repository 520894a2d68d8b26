import AKRPConfig

/// An ETSI GS QKD 014 error answer: the HTTP status and the standard's error object, `message` and
/// `details` (an array of objects naming what was wrong).
public struct ETSIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// HTTP status: 400 bad parameters, 401 not authorised for that SAE, 503 no key in time; also 404
    /// (no such path), 405 (method), 413 (body too large).
    public var status: Int
    /// What went wrong, one sentence.
    public var message: String
    /// Name/value pairs that say where: `parameter`, `reason`, `key_ID`, …
    public var details: [(String, String)]

    /// An error with HTTP status `status`.
    public init(_ status: Int, _ message: String, _ details: [(String, String)] = []) {
        self.status = status
        self.message = message
        self.details = details
    }

    /// Equal when status, message and every detail pair (in order) are equal.
    public static func == (a: ETSIError, b: ETSIError) -> Bool {
        a.status == b.status && a.message == b.message && a.details.elementsEqual(b.details) { $0 == $1 }
    }

    /// The status, the message and the details as `name=value`, for logs.
    public var description: String { "\(status) \(message)" + details.map { " \($0.0)=\($0.1)" }.joined() }

    /// Why an error is counted in the metrics (label of `akrp_etsi_refused_total`).
    public var reason: String {
        switch status {
        case 400: "bad_request"
        case 401: "unauthorized"
        case 503: "no_key"
        case 404: "not_found"
        case 405: "method"
        case 413: "too_large"
        default: "other"
        }
    }

    /// The standard's error object as JSON.
    public var json: String {
        var out = "{\"message\":" + JSONValue.quoted(message) + ",\"details\":["
        for (i, d) in details.enumerated() {
            if i > 0 { out += "," }
            out += "{" + JSONValue.quoted(d.0) + ":" + JSONValue.quoted(d.1) + "}"
        }
        return out + "]}"
    }
}
