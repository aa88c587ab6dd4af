import XCTest
@testable import QueueCore

final class JSONParserTests: XCTestCase {
    func testRoundTripsValues() throws {
        let text = #"{"a":1,"b":-2.5,"c":"x\"y\\z\n\u00e9","d":[true,false,null],"e":{}}"#
        let v = try JSONParser.parse(text)
        XCTAssertEqual(v["a"], .int(1))
        XCTAssertEqual(v["b"], .double(-2.5))
        XCTAssertEqual(v["c"]?.stringValue, "x\"y\\z\né")
        XCTAssertEqual(try JSONParser.parse(v.serialized()), v)
        XCTAssertEqual(try JSONParser.parse(v.pretty()), v)
    }

    func testDecodesSurrogatePairs() throws {
        XCTAssertEqual(try JSONParser.parse(#""\ud83d\ude00""#).stringValue, "😀")
    }

    func testRejectsMalformed() {
        for text in [#"{"a":1} x"#, #"{"a":1,"a":2}"#, "\"a\u{01}b\"", "01", "1.", "-", "[1,]", #"{"a"}"#, "\"\\ud800\"", "nul"] {
            XCTAssertThrowsError(try JSONParser.parse(text), "\(text.debugDescription): accepted") {
                XCTAssertTrue($0 is JSONParseError, "\(text.debugDescription): wrong error \($0)")
            }
        }
    }

    func testRejectsDeepNesting() {
        XCTAssertThrowsError(try JSONParser.parse(String(repeating: "[", count: 500))) {
            XCTAssertTrue($0 is JSONParseError, "wrong error \($0)")
        }
    }

    func testParsesJSONLines() throws {
        var text = "{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}"
        let values = try text.withUTF8 { try JSONParser.parseSequence(bytes: $0) }
        XCTAssertEqual(values.count, 3)
        XCTAssertEqual(values[2]["a"], .int(3))
    }

    func testEscapesControlCharactersWhenWriting() {
        XCTAssertEqual(JSON.string("a\u{01}\n").serialized(), #""a\u0001\n""#)
    }
}

final class ClockTests: XCTestCase {
    func testFormatsUTCWithMilliseconds() {
        XCTAssertEqual(Clock.iso(0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Clock.iso(1_795_343_400_123), "2026-11-22T10:30:00.123Z")
        XCTAssertEqual(Clock.iso(951_782_400_000), "2000-02-29T00:00:00.000Z")
    }

    func testParsesWhatItFormats() {
        for ms: Millis in [0, 1, 999, 1_795_343_400_123, 4_102_444_799_999] {
            XCTAssertEqual(Clock.parseISO(Clock.iso(ms)), ms)
        }
    }

    func testParsesOffsets() {
        XCTAssertEqual(Clock.parseISO("2026-11-22T10:30:00Z"), 1_795_343_400_000)
        XCTAssertEqual(Clock.parseISO("2026-11-22T12:30:00+02:00"), 1_795_343_400_000)
        XCTAssertEqual(Clock.parseISO("2026-11-22T05:00:00-0530"), 1_795_343_400_000)
        XCTAssertEqual(Clock.parseISO("2026-11-22 10:30:00.5Z"), 1_795_343_400_500)
    }

    func testParsesLocalTimeWithoutOffset() {
        // Without an offset the time is local; whatever the zone, it is within a day of UTC.
        let local = Clock.parseISO("2026-11-22T10:30:00")
        XCTAssertNotNil(local)
        XCTAssertTrue(abs((local ?? 0) - 1_795_343_400_000) <= 14 * 3_600_000)
    }

    func testRejectsBadDates() {
        for text in ["2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-22T24:00:00Z", "yesterday", "", "2026-11-22T10:30:00+25:00"] {
            XCTAssertNil(Clock.parseISO(text), "\(text.debugDescription)")
        }
    }

    func testParsesDurations() {
        XCTAssertEqual(Clock.parseDuration("30"), 30)
        XCTAssertEqual(Clock.parseDuration("30s"), 30)
        XCTAssertEqual(Clock.parseDuration("500ms"), 0.5)
        XCTAssertEqual(Clock.parseDuration("5m"), 300)
        XCTAssertEqual(Clock.parseDuration("2h"), 7200)
        XCTAssertEqual(Clock.parseDuration("1d"), 86400)
        XCTAssertEqual(Clock.parseDuration("1h30m"), 5400)
        for bad in ["-5s", "abc", "", "5x", "s"] { XCTAssertNil(Clock.parseDuration(bad), "\(bad.debugDescription)") }
    }
}

/// Which file systems make workers poll instead of trusting inotify.
final class FileSystemKindTests: XCTestCase {
    func testNetworkFileSystemsPoll() {
        for type in ["nfs", "nfs4", "ceph", "lustre", "cifs", "glusterfs", "fuse.juicefs", "fuse.sshfs", "9p"] {
            XCTAssertTrue(FileSystemKind.isNetwork(type: type), "\(type)")
        }
    }

    func testLocalFileSystemsUseInotify() {
        for type in ["ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs"] {
            XCTAssertTrue(!FileSystemKind.isNetwork(type: type), "\(type)")
        }
    }

    func testMountPointsWithSpacesAreUnescaped() {
        XCTAssertEqual(FileSystemKind.unescape("/mnt/my\\040share"), "/mnt/my share")
        XCTAssertEqual(FileSystemKind.unescape("/plain"), "/plain")
    }

    func testTheLongestMountPointContainingThePathWins() {
        // /proc is mounted as proc: the longest mount point containing the path wins.
        XCTAssertEqual(FileSystemKind.mountType(of: "/proc/self"), "proc")
    }
}
