import Testing
@testable import QueueCore

@Suite struct JSONParserTests {
    @Test func roundTripsValues() throws {
        let text = #"{"a":1,"b":-2.5,"c":"x\"y\\z\n\u00e9","d":[true,false,null],"e":{}}"#
        let v = try JSONParser.parse(text)
        #expect(v["a"] == .int(1))
        #expect(v["b"] == .double(-2.5))
        #expect(v["c"]?.stringValue == "x\"y\\z\né")
        #expect(try JSONParser.parse(v.serialized()) == v)
        #expect(try JSONParser.parse(v.pretty()) == v)
    }

    @Test func decodesSurrogatePairs() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#).stringValue == "😀")
    }

    @Test(arguments: [#"{"a":1} x"#, #"{"a":1,"a":2}"#, "\"a\u{01}b\"", "01", "1.", "-", "[1,]", #"{"a"}"#, "\"\\ud800\"", "nul"])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func rejectsDeepNesting() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(String(repeating: "[", count: 500)) }
    }

    @Test func parsesJSONLines() throws {
        var text = "{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}"
        let values = try text.withUTF8 { try JSONParser.parseSequence(bytes: $0) }
        #expect(values.count == 3)
        #expect(values[2]["a"] == .int(3))
    }

    @Test func escapesControlCharactersWhenWriting() {
        #expect(JSON.string("a\u{01}\n").serialized() == #""a\u0001\n""#)
    }
}

@Suite struct ClockTests {
    @Test func formatsUTCWithMilliseconds() {
        #expect(Clock.iso(0) == "1970-01-01T00:00:00.000Z")
        #expect(Clock.iso(1_795_343_400_123) == "2026-11-22T10:30:00.123Z")
        #expect(Clock.iso(951_782_400_000) == "2000-02-29T00:00:00.000Z")
    }

    @Test func parsesWhatItFormats() {
        for ms: Millis in [0, 1, 999, 1_795_343_400_123, 4_102_444_799_999] {
            #expect(Clock.parseISO(Clock.iso(ms)) == ms)
        }
    }

    @Test func parsesOffsets() {
        #expect(Clock.parseISO("2026-11-22T10:30:00Z") == 1_795_343_400_000)
        #expect(Clock.parseISO("2026-11-22T12:30:00+02:00") == 1_795_343_400_000)
        #expect(Clock.parseISO("2026-11-22T05:00:00-0530") == 1_795_343_400_000)
        #expect(Clock.parseISO("2026-11-22 10:30:00.5Z") == 1_795_343_400_500)
    }

    @Test func parsesLocalTimeWithoutOffset() {
        // Without an offset the time is local; whatever the zone, it is within a day of UTC.
        let local = Clock.parseISO("2026-11-22T10:30:00")
        #expect(local != nil)
        #expect(abs((local ?? 0) - 1_795_343_400_000) <= 14 * 3_600_000)
    }

    @Test(arguments: ["2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-22T24:00:00Z", "yesterday", "", "2026-11-22T10:30:00+25:00"])
    func rejectsBadDates(_ text: String) {
        #expect(Clock.parseISO(text) == nil)
    }

    @Test func parsesDurations() {
        #expect(Clock.parseDuration("30") == 30)
        #expect(Clock.parseDuration("30s") == 30)
        #expect(Clock.parseDuration("500ms") == 0.5)
        #expect(Clock.parseDuration("5m") == 300)
        #expect(Clock.parseDuration("2h") == 7200)
        #expect(Clock.parseDuration("1d") == 86400)
        #expect(Clock.parseDuration("1h30m") == 5400)
        for bad in ["-5s", "abc", "", "5x", "s"] { #expect(Clock.parseDuration(bad) == nil) }
    }
}

/// Which file systems make workers poll instead of trusting inotify.
@Suite struct FileSystemKindTests {
    @Test(arguments: ["nfs", "nfs4", "ceph", "lustre", "cifs", "glusterfs", "fuse.juicefs", "fuse.sshfs", "9p"])
    func networkFileSystemsPoll(_ type: String) {
        #expect(FileSystemKind.isNetwork(type: type))
    }

    @Test(arguments: ["ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs"])
    func localFileSystemsUseInotify(_ type: String) {
        #expect(!FileSystemKind.isNetwork(type: type))
    }

    @Test func mountPointsWithSpacesAreUnescaped() {
        #expect(FileSystemKind.unescape("/mnt/my\\040share") == "/mnt/my share")
        #expect(FileSystemKind.unescape("/plain") == "/plain")
    }

    @Test func theLongestMountPointContainingThePathWins() {
        // /proc is mounted as proc: the longest mount point containing the path wins.
        #expect(FileSystemKind.mountType(of: "/proc/self") == "proc")
    }
}
