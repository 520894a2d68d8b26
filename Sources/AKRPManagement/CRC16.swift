/// CRC-16/XMODEM (CCITT polynomial 0x1021, initial value 0, no reflection, no final XOR): the checksum of
/// the SMP serial transport. Check value: "123456789" → 0x31C3.
public enum CRC16 {
    static let table: [UInt16] = (0..<256).map { i -> UInt16 in
        var c = UInt16(i) << 8
        for _ in 0..<8 { c = c & 0x8000 != 0 ? (c << 1) ^ 0x1021 : c << 1 }
        return c
    }

    /// The checksum of `bytes`, continuing from `crc`.
    public static func checksum(_ bytes: some Sequence<UInt8>, continuing crc: UInt16 = 0) -> UInt16 {
        var c = crc
        for b in bytes { c = (c << 8) ^ table[Int(UInt8(c >> 8) ^ b)] }
        return c
    }
}
