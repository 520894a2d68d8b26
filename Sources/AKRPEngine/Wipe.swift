// The one key-wiping routine of the package. Glibc (or its equivalent) is imported for its
// non-elidable zeroing only: the engine still does no I/O.
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Overwrites key material with zeros in a way the optimiser may not remove, even when the memory
/// is freed or goes out of scope right after.
///
/// Every module of the package wipes key bytes through this function (pools, outboxes, staging
/// rings, transfer buffers, traces, wire buffers). It calls the C library's `explicit_bzero`
/// (`memset_s` on Darwin), which compilers treat as having an observable effect; where neither
/// exists it falls back to byte stores through an unoptimised, non-inlined loop.
@inline(never)
public func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return }
    #if canImport(Glibc) || canImport(Musl)
    explicit_bzero(base, buffer.count)
    #elseif canImport(Darwin)
    _ = memset_s(base, buffer.count, 0, buffer.count)
    #else
    volatileZero(base, buffer.count)
    #endif
}

#if !(canImport(Glibc) || canImport(Musl) || canImport(Darwin))
/// Byte-wise zeroing the optimiser leaves alone (`@_optimize(none)`), for platforms without
/// `explicit_bzero` or `memset_s`.
@inline(never)
@_optimize(none)
private func volatileZero(_ base: UnsafeMutableRawPointer, _ count: Int) {
    var i = 0
    while i < count {
        base.storeBytes(of: 0, toByteOffset: i, as: UInt8.self)
        i += 1
    }
}
#endif
