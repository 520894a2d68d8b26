#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Overwrites key material with zeros in a way the optimiser may not remove.
@inline(never)
func wipeKeyMaterial(_ bytes: UnsafeMutableRawBufferPointer) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    #if canImport(Glibc) || canImport(Musl)
    explicit_bzero(base, bytes.count)
    #elseif canImport(Darwin)
    _ = memset_s(base, bytes.count, 0, bytes.count)
    #else
    volatileZero(base, bytes.count)
    #endif
}

#if !(canImport(Glibc) || canImport(Musl) || canImport(Darwin))
@_optimize(none)
func volatileZero(_ base: UnsafeMutableRawPointer, _ count: Int) {
    var i = 0
    while i < count { base.storeBytes(of: 0, toByteOffset: i, as: UInt8.self); i += 1 }
}
#endif
