import Testing
@testable import QueueCore

@Suite struct ArgumentParserTests {
    let root = CommandSpec(
        "tool", summary: "a test tool",
        subcommands: [
            CommandSpec("run", summary: "run things",
                        arguments: [ArgumentSpec("NAME", help: "the name to run")],
                        options: [OptionSpec("count", short: "n", value: "N", help: "how many times"),
                                  OptionSpec("tag", value: "T", help: "a tag", repeatable: true),
                                  OptionSpec("dry", help: "only pretend")],
                        takesRest: true),
            CommandSpec("db", summary: "database", subcommands: [
                CommandSpec("drop", summary: "drop it", arguments: [ArgumentSpec("ID", help: "ids", optional: true, variadic: true)]),
            ]),
        ])

    func parse(_ args: [String]) throws -> ParsedCommand {
        guard case .run(let c) = try ArgumentParser.parse(args, root: root, program: "tool") else {
            Issue.record("expected a command")
            return ParsedCommand()
        }
        return c
    }

    func usageError(_ args: [String]) -> String {
        do {
            _ = try ArgumentParser.parse(args, root: root, program: "tool")
        } catch let e as QueueError {
            #expect(e.exitCode == 2)
            return e.description
        } catch {}
        Issue.record("expected a usage error for \(args)")
        return ""
    }

    @Test func parsesOptionsInEveryForm() throws {
        let c = try parse(["run", "x", "--count", "3", "--tag=a", "--tag", "b", "--dry", "--home", "/h"])
        #expect(c.path == ["run"])
        #expect(c.arguments == ["x"])
        #expect(c.value("count") == "3")
        #expect(c.all("tag") == ["a", "b"])
        #expect(c.flag("dry"))
        #expect(c.value("home") == "/h")
        #expect(try parse(["run", "-n", "4", "y"]).value("count") == "4")
    }

    @Test func collectsEverythingAfterDoubleDash() throws {
        let c = try parse(["run", "x", "--", "echo", "--count", "-n"])
        #expect(c.rest == ["echo", "--count", "-n"])
        #expect(c.sawDashDash)
        #expect(c.value("count") == nil)
    }

    @Test func nestedSubcommandsAndVariadicArguments() throws {
        let c = try parse(["db", "drop", "a", "b", "c"])
        #expect(c.path == ["db", "drop"])
        #expect(c.arguments == ["a", "b", "c"])
    }

    @Test func reportsMistakes() {
        #expect(usageError(["runn", "x"]).contains("did you mean: ") && usageError(["runn", "x"]).hasSuffix(" run x"))
        #expect(usageError(["run", "x", "--cuont", "1"]).hasSuffix("did you mean: tool run x --count 1"))
        #expect(usageError(["run", "x", "--count"]).contains("needs a value"))
        #expect(usageError(["run", "x", "--count", "1", "--count", "2"]).contains("given twice"))
        #expect(usageError(["run"]).contains("missing argument NAME"))
        #expect(usageError(["run", "x", "y"]).hasSuffix("did you mean: tool run x -- y"))  // a command's words go after --
        #expect(usageError(["db"]).contains("needs a command"))
        #expect(usageError(["db", "drop", "--", "x"]).contains("not accepted"))
        #expect(usageError(["run", "x", "--dry=yes"]).contains("takes no value"))
    }

    @Test func helpComesFromTheDeclaration() throws {
        guard case .help(let text) = try ArgumentParser.parse(["run", "--help"], root: root, program: "tool") else {
            Issue.record("expected help")
            return
        }
        for needle in ["Usage: tool run", "how many times", "--count N", "a tag (repeatable)", "only pretend", "the name to run", "--home DIR"] {
            #expect(text.contains(needle), "help lacks \(needle)")
        }
        guard case .help(let top) = try ArgumentParser.parse(["-h"], root: root, program: "tool") else {
            Issue.record("expected help")
            return
        }
        #expect(top.contains("run") && top.contains("database"))
        guard case .version = try ArgumentParser.parse(["--version"], root: root, program: "tool") else {
            Issue.record("expected version")
            return
        }
    }
}
