/// Bytes from a hex string (test helper; traps on bad test input only).
func hex(_ s: String) -> [UInt8] {
    let digits = Array(s.utf8).filter { $0 != UInt8(ascii: " ") }
    precondition(digits.count % 2 == 0)
    func value(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: preconditionFailure("bad hex digit")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
}

func hexString(_ b: [UInt8]) -> String {
    let d = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for x in b { out += [d[Int(x >> 4)], d[Int(x & 15)]] }
    return String(decoding: out, as: UTF8.self)
}
