import AKRPEngine

/// The first bytes each box sends on a new neighbour connection, before any frame: who it is, its
/// incarnation, and where its key pool of the link starts.
///
/// The greeting is not authenticated (authentication needs both ends to name the same key units, which
/// is what the greeting is for). It is therefore only used to *skip forward*: a box moves the head of
/// its pool to the peer's announced head when that is ahead of its own, burning the units in between —
/// never freeing or reusing one. After both greetings the two heads are equal, so each end's next frame
/// is keyed by a unit the other can verify once its device has delivered it. The worst a forged greeting
/// can do is burn a bounded amount of key (``maximumSkip`` and one greeting per accepted connection,
/// from the configured neighbour's address); it cannot make a unit be used twice.
///
/// Layout (36 bytes, big-endian): magic "AKRPPEER" (8), version (2) = 2, reserved (2) = 0, sender node
/// (4), receiver node (4), sender incarnation (8), pool head of the link at the sender (8).
///
/// The version names the neighbour protocol as a whole: 2 since commit and delivered carry a flags byte
/// (docs/WIRE.md §2), so a box of an earlier build is refused here, by name, instead of exchanging frames
/// the other end would misread.
struct PeerGreeting: Equatable {
    static let magic: [UInt8] = Array("AKRPPEER".utf8)
    static let version: UInt16 = 2
    static let length = 36

    var sender: NodeID
    var receiver: NodeID
    var incarnation: UInt64
    var head: UnitIndex

    /// Why a greeting was refused.
    enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case badMagic
        case unsupportedVersion(UInt16)
        case reservedNotZero

        var description: String {
            switch self {
            case .badMagic: "not an AKRP peer (bad greeting magic)"
            case .unsupportedVersion(let v): "unsupported peer greeting version \(v)"
            case .reservedNotZero: "malformed peer greeting (reserved field not zero)"
            }
        }
    }

    func encoded() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(Self.length)
        func put<T: FixedWidthInteger>(_ v: T) {
            withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
        }
        put(Self.version)
        put(UInt16(0))
        put(sender.rawValue)
        put(receiver.rawValue)
        put(incarnation)
        put(head)
        return out
    }

    /// Decodes exactly ``length`` bytes.
    init(decoding b: ArraySlice<UInt8>) throws(Error) {
        guard b.count == Self.length, b.prefix(8).elementsEqual(Self.magic) else { throw .badMagic }
        var i = b.startIndex + 8
        func take<T: FixedWidthInteger>(_: T.Type) -> T {
            var v: T = 0
            for _ in 0..<MemoryLayout<T>.size {
                v = v << 8 | T(b[i])
                i += 1
            }
            return v
        }
        let version = take(UInt16.self)
        guard version == Self.version else { throw .unsupportedVersion(version) }
        guard take(UInt16.self) == 0 else { throw .reservedNotZero }
        sender = NodeID(take(UInt32.self))
        receiver = NodeID(take(UInt32.self))
        incarnation = take(UInt64.self)
        head = take(UInt64.self)
    }

    init(sender: NodeID, receiver: NodeID, incarnation: UInt64, head: UnitIndex) {
        self.sender = sender
        self.receiver = receiver
        self.incarnation = incarnation
        self.head = head
    }
}
