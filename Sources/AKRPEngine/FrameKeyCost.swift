/// What authenticating frames between neighbours costs in link key (docs/WIRE.md §4.6): every frame
/// spends one 8-byte one-time pad (four per key unit) and the frames of one direction of a link share a
/// hash key (one key unit) for ``hashKeyLifetime`` frames. The one definition for the wire codec, the
/// daemon and the simulator's accounting.
public enum FrameKeyCost {
    /// Bytes of one-time pad per frame.
    public static let padBytes = 8
    /// Pads one key unit provides (its first 32 bytes).
    public static let padsPerUnit = 4
    /// Frames one hash key keys before the sender takes a new one.
    public static let hashKeyLifetime = 1 << 20

    /// Link key bits that `frames` frames sent over one direction of a link take from the sender's pool
    /// (and consume at both ends): whole pad units and hash-key units of `unitBits` bits each.
    public static func bits(frames: Int, unitBits: Int) -> Int {
        guard frames > 0 else { return 0 }
        let padUnits = (frames + padsPerUnit - 1) / padsPerUnit
        let hashKeys = (frames + hashKeyLifetime - 1) / hashKeyLifetime
        return (padUnits + hashKeys) * unitBits
    }

    /// An upper bound of ``bits(frames:unitBits:)`` summed over `directions` directed links that together
    /// sent `frames` frames, when only the total is known: 64 bits per frame and one hash key per
    /// 2^20 frames, plus, per direction, one hash key and the unused pads of its last pad unit.
    public static func boundBits(frames: Int, directions: Int, unitBits: Int) -> Int {
        guard frames > 0 else { return 0 }
        let perFrame = frames * padBytes * 8 + (frames / hashKeyLifetime) * unitBits
        return perFrame + directions * (unitBits + (padsPerUnit - 1) * padBytes * 8)
    }
}
