// A small, strict JSON value with a byte-level parser and a writer.
// Hand-rolled so the library needs no Foundation: the CLI links statically and starts fast,
// and the store can parse a 100,000-job snapshot without a general-purpose decoder's overhead.

public enum JSON: Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    /// Keys in document order; duplicate keys are rejected by the parser.
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.int(x), .double(y)), let (.double(y), .int(x)): return Double(x) == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> JSON? {
        guard case .object(let pairs) = self else { return nil }
        for (k, v) in pairs where k == key { return v }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: return Int64(d)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a }; return nil }
    public var objectValue: [(String, JSON)]? { if case .object(let o) = self { return o }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// A short name of the value's type, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

public struct JSONParseError: Error, CustomStringConvertible {
    public let message: String
    public let offset: Int
    public var description: String { "\(message) at byte \(offset)" }
}

public enum JSONParser {
    public static func parse(_ text: String) throws -> JSON {
        var t = text
        return try t.withUTF8 { try parse(bytes: $0) }
    }

    public static func parse(bytes: UnsafeBufferPointer<UInt8>) throws -> JSON {
        var p = Cursor(buf: bytes, i: 0)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.i != bytes.count { throw p.error("unexpected data after the JSON value") }
        return v
    }

    public static func parse(bytes: [UInt8]) throws -> JSON {
        try bytes.withUnsafeBufferPointer { try parse(bytes: $0) }
    }

    /// Parses consecutive values separated by whitespace/newlines (JSON Lines, or concatenated JSON).
    public static func parseSequence(bytes: UnsafeBufferPointer<UInt8>) throws -> [JSON] {
        var p = Cursor(buf: bytes, i: 0)
        var out: [JSON] = []
        p.skipSpace()
        while p.i < bytes.count {
            out.append(try p.value(depth: 0))
            p.skipSpace()
        }
        return out
    }

    struct Cursor {
        let buf: UnsafeBufferPointer<UInt8>
        var i: Int

        func error(_ m: String) -> JSONParseError { JSONParseError(message: m, offset: i) }

        @inline(__always) mutating func skipSpace() {
            while i < buf.count {
                let c = buf[i]
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { break }
            }
        }

        mutating func value(depth: Int) throws -> JSON {
            guard depth < 200 else { throw error("JSON nested too deeply") }
            guard i < buf.count else { throw error("unexpected end of JSON") }
            switch buf[i] {
            case UInt8(ascii: "{"):
                i += 1
                var pairs: [(String, JSON)] = []
                skipSpace()
                if i < buf.count && buf[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                while true {
                    skipSpace()
                    guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw error("expected a quoted key") }
                    let key = try string()
                    for (k, _) in pairs where k == key { throw error("duplicate key \"\(key)\"") }
                    skipSpace()
                    guard i < buf.count, buf[i] == UInt8(ascii: ":") else { throw error("expected ':' after key") }
                    i += 1
                    skipSpace()
                    pairs.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < buf.count else { throw error("unexpected end of JSON in object") }
                    if buf[i] == UInt8(ascii: ",") { i += 1; continue }
                    if buf[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                    throw error("expected ',' or '}' in object")
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [JSON] = []
                skipSpace()
                if i < buf.count && buf[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < buf.count else { throw error("unexpected end of JSON in array") }
                    if buf[i] == UInt8(ascii: ",") { i += 1; continue }
                    if buf[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                    throw error("expected ',' or ']' in array")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return try number()
            default:
                throw error("unexpected character '\(Unicode.Scalar(buf[i]))'")
            }
        }

        mutating func literal(_ word: StaticString) throws {
            let n = word.utf8CodeUnitCount
            guard i + n <= buf.count else { throw error("unexpected end of JSON") }
            let w = word.utf8Start
            for k in 0..<n where buf[i + k] != w[k] { throw error("invalid literal") }
            i += n
        }

        mutating func number() throws -> JSON {
            let start = i
            var isFloat = false
            if buf[i] == UInt8(ascii: "-") { i += 1 }
            guard i < buf.count, buf[i] >= 0x30, buf[i] <= 0x39 else { throw error("invalid number") }
            if buf[i] == 0x30 {
                i += 1
            } else {
                while i < buf.count, buf[i] >= 0x30, buf[i] <= 0x39 { i += 1 }
            }
            if i < buf.count, buf[i] == UInt8(ascii: ".") {
                isFloat = true
                i += 1
                guard i < buf.count, buf[i] >= 0x30, buf[i] <= 0x39 else { throw error("invalid number") }
                while i < buf.count, buf[i] >= 0x30, buf[i] <= 0x39 { i += 1 }
            }
            if i < buf.count, buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E") {
                isFloat = true
                i += 1
                if i < buf.count, buf[i] == UInt8(ascii: "+") || buf[i] == UInt8(ascii: "-") { i += 1 }
                guard i < buf.count, buf[i] >= 0x30, buf[i] <= 0x39 else { throw error("invalid number") }
                while i < buf.count, buf[i] >= 0x30, buf[i] <= 0x39 { i += 1 }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
            if !isFloat, let v = Int64(text) { return .int(v) }
            // A number beyond Double's range is ±infinity here: JSON has no limit, and the reader
            // of each field checks its own range (and names the field when refusing it).
            guard let d = Double(text) else { throw error("invalid number") }
            return .double(d)
        }

        mutating func string() throws -> String {
            i += 1  // opening quote
            let start = i
            // Fast path: no escapes.
            while i < buf.count {
                let c = buf[i]
                if c == UInt8(ascii: "\"") {
                    let s = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
                    i += 1
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw error("control character in string") }
                i += 1
            }
            var bytes = Array(UnsafeBufferPointer(rebasing: buf[start..<i]))
            while i < buf.count {
                let c = buf[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return String(decoding: bytes, as: UTF8.self)
                }
                if c < 0x20 { throw error("control character in string") }
                if c != UInt8(ascii: "\\") { bytes.append(c); i += 1; continue }
                i += 1
                guard i < buf.count else { break }
                let e = buf[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): bytes.append(0x22)
                case UInt8(ascii: "\\"): bytes.append(0x5C)
                case UInt8(ascii: "/"): bytes.append(0x2F)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard i + 1 < buf.count, buf[i] == UInt8(ascii: "\\"), buf[i + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate in string")
                        }
                        i += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw error("unpaired surrogate in string") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw error("unpaired surrogate in string")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                    bytes.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    throw error("invalid escape in string")
                }
            }
            throw error("unterminated string")
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= buf.count else { throw error("invalid \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = buf[i]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                default: throw error("invalid \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }
    }
}

// MARK: - Writing

extension JSON {
    /// Compact single-line JSON (safe inside JSON Lines: newlines in strings are escaped).
    public func serialized() -> String {
        var out = ""
        out.reserveCapacity(128)
        write(to: &out)
        return out
    }

    public func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += JSON.format(d)
        case .string(let s): JSON.writeString(s, to: &out)
        case .array(let a):
            out += "["
            for (n, v) in a.enumerated() {
                if n > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (n, (k, v)) in o.enumerated() {
                if n > 0 { out += "," }
                JSON.writeString(k, to: &out)
                out += ":"
                v.write(to: &out)
            }
            out += "}"
        }
    }

    /// Indented, for humans (`--json` output).
    public func pretty(indent: Int = 0) -> String {
        var out = ""
        writePretty(to: &out, indent: indent)
        return out
    }

    func writePretty(to out: inout String, indent: Int) {
        let pad = String(repeating: "  ", count: indent + 1)
        let close = String(repeating: "  ", count: indent)
        switch self {
        case .array(let a) where !a.isEmpty:
            out += "[\n"
            for (n, v) in a.enumerated() {
                out += pad
                v.writePretty(to: &out, indent: indent + 1)
                out += n == a.count - 1 ? "\n" : ",\n"
            }
            out += close + "]"
        case .object(let o) where !o.isEmpty:
            out += "{\n"
            for (n, (k, v)) in o.enumerated() {
                out += pad
                JSON.writeString(k, to: &out)
                out += ": "
                v.writePretty(to: &out, indent: indent + 1)
                out += n == o.count - 1 ? "\n" : ",\n"
            }
            out += close + "}"
        default:
            write(to: &out)
        }
    }

    static func format(_ d: Double) -> String {
        guard d.isFinite else { return "null" }  // JSON has no infinity: never written as a number
        if d.rounded() == d && abs(d) < 1e15 { return String(Int64(d)) }  // checked: below 1e15
        return "\(d)"
    }

    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        var needsEscape = false
        for b in s.utf8 where b < 0x20 || b == 0x22 || b == 0x5C { needsEscape = true; break }
        if !needsEscape {
            out += s
        } else {
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if u.value < 0x20 {
                        let hex = String(u.value, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    } else {
                        out.unicodeScalars.append(u)
                    }
                }
            }
        }
        out += "\""
    }
}
