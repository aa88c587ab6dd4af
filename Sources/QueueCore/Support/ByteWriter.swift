/// Appends JSON to a byte buffer. The store serialises every job when it writes a snapshot, and
/// Swift `String` appends cost several times more than appending bytes.
public struct ByteWriter {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    @inline(__always) public mutating func lit(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public mutating func raw(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// A JSON string literal with escapes.
    public mutating func str(_ s: String) {
        bytes.append(0x22)
        var s = s
        s.withUTF8 { u in
            var clean = true
            for b in u where b < 0x20 || b == 0x22 || b == 0x5C { clean = false; break }
            if clean {
                bytes.append(contentsOf: u)
            } else {
                for b in u {
                    switch b {
                    case 0x22: lit("\\\"")
                    case 0x5C: lit("\\\\")
                    case 0x0A: lit("\\n")
                    case 0x0D: lit("\\r")
                    case 0x09: lit("\\t")
                    case 0..<0x20:
                        lit("\\u00")
                        let hex: [UInt8] = Array("0123456789abcdef".utf8)
                        bytes.append(hex[Int(b >> 4)])
                        bytes.append(hex[Int(b & 15)])
                    default: bytes.append(b)
                    }
                }
            }
        }
        bytes.append(0x22)
    }

    public mutating func int<I: BinaryInteger>(_ v: I) {
        var v = Int64(v)
        if v == 0 { bytes.append(0x30); return }
        if v < 0 {
            bytes.append(0x2D)
            if v == Int64.min { raw("9223372036854775808"); return }
            v = -v
        }
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { buf in
            while v > 0 {
                buf[n] = UInt8(48 + v % 10)
                v /= 10
                n += 1
            }
            for k in stride(from: n - 1, through: 0, by: -1) { bytes.append(buf[k]) }
        }
    }

    public mutating func optInt<I: BinaryInteger>(_ v: I?) { if let v = v { int(v) } else { lit("null") } }

    /// A quoted ISO-8601 time, or null.
    public mutating func time(_ m: Millis?) {
        guard let m = m else { lit("null"); return }
        bytes.append(0x22)
        raw(Clock.iso(m))
        bytes.append(0x22)
    }

    public mutating func json(_ v: JSON) { raw(v.serialized()) }
}
