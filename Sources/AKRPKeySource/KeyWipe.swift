/// Overwrites `bytes` with zeros; used for key material once it has reached its destination.
///
/// Not inlined and not optimized, so the stores are not removed as dead even when the memory is
/// freed right after. (The device layer uses `explicit_bzero` for its C-owned buffers.)
@inline(never)
@_optimize(none)
public func wipeKeyBytes(_ bytes: UnsafeMutableRawBufferPointer) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes.count)
}
