/// A small hand-rolled command-line parser. Commands are declared once (`CommandSpec`); the same
/// declaration parses arguments, renders `--help`, and generates shell completions.
public struct OptionSpec {
    public let long: String             // without dashes
    public let short: Character?
    public let valueName: String?       // nil: a flag without a value
    public let help: String
    public let repeatable: Bool

    public init(_ long: String, short: Character? = nil, value: String? = nil, help: String, repeatable: Bool = false) {
        self.long = long
        self.short = short
        self.valueName = value
        self.help = help
        self.repeatable = repeatable
    }
}

public struct ArgumentSpec {
    public let name: String
    public let help: String
    public let optional: Bool
    public let variadic: Bool

    public init(_ name: String, help: String, optional: Bool = false, variadic: Bool = false) {
        self.name = name
        self.help = help
        self.optional = optional
        self.variadic = variadic
    }
}

public struct CommandSpec {
    public let name: String
    public let summary: String
    public var arguments: [ArgumentSpec]
    public var options: [OptionSpec]
    public var subcommands: [CommandSpec]
    public var examples: [String]
    /// Whether words after `--` are collected (as `rest`) rather than taken as arguments.
    public var takesRest: Bool
    public var restName: String
    /// The subcommand a bare `NAME` runs (e.g. `config` = `config show`).
    public var defaultSubcommand: String?

    public init(_ name: String, summary: String, arguments: [ArgumentSpec] = [], options: [OptionSpec] = [],
                subcommands: [CommandSpec] = [], examples: [String] = [], takesRest: Bool = false, restName: String = "CMD",
                defaultSubcommand: String? = nil) {
        self.defaultSubcommand = defaultSubcommand
        self.name = name
        self.summary = summary
        self.arguments = arguments
        self.options = options
        self.subcommands = subcommands
        self.examples = examples
        self.takesRest = takesRest
        self.restName = restName
    }
}

/// The result of parsing: which command, and its options and arguments.
public struct ParsedCommand {
    public var path: [String] = []                 // e.g. ["worker", "start"]
    public var values: [String: [String]] = [:]    // option long name → values (flags: [""])
    public var arguments: [String] = []
    public var rest: [String] = []
    public var sawDashDash = false

    public func flag(_ name: String) -> Bool { values[name] != nil }
    public func value(_ name: String) -> String? { values[name]?.last }
    public func all(_ name: String) -> [String] { values[name] ?? [] }
}

public enum ParseOutcome {
    case run(ParsedCommand)
    case help(String)
    case version
}

public enum ArgumentParser {
    /// Options every command accepts.
    public static let globalOptions: [OptionSpec] = [
        OptionSpec("home", value: "DIR", help: "queue data directory (default: $QUEUECTL_HOME, else $XDG_DATA_HOME/queuectl)"),
        OptionSpec("help", short: "h", help: "show help for this command"),
    ]

    public static func parse(_ args: [String], root: CommandSpec, program: String) throws -> ParseOutcome {
        var parsed = ParsedCommand()
        var spec = root
        var chain: [CommandSpec] = [root]
        var i = 0
        var positional: [String] = []
        var positionalAt: [Int] = []  // where each positional argument is in `args`

        func options() -> [OptionSpec] { spec.options + globalOptions }
        /// The user's line with the argument at `index` replaced: what a "did you mean" prints.
        func corrected(_ index: Int, _ replacement: [String]) -> String {
            ShellWords.line(program, Array(args[..<index]) + replacement + Array(args[(index + 1)...]))
        }

        while i < args.count {
            let a = args[i]
            i += 1
            if parsed.sawDashDash {
                parsed.rest.append(a)
                continue
            }
            if a == "--" {
                guard spec.takesRest else {
                    throw QueueError.usage("'\(a)' is not accepted by '\(usageName(chain, program))'; see '\(usageName(chain, program)) --help'")
                }
                parsed.sawDashDash = true
                continue
            }
            if a == "--version" && chain.count == 1 { return .version }
            if a.hasPrefix("--") && a.count > 2 {
                var name = String(a.dropFirst(2))
                var inline: String? = nil
                if let eq = name.firstIndex(of: "=") {
                    inline = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                guard let opt = options().first(where: { $0.long == name }) else {
                    let here = i - 1
                    // A command typed as an option (`worker --start`, `--status`).
                    if inline == nil, positional.isEmpty, let sub = spec.subcommands.first(where: { $0.name == name }) {
                        throw QueueError.usage("'--\(name)' is a command, not an option; did you mean: \(corrected(here, [sub.name]))")
                    }
                    if let close = Suggest.closest(to: name, in: options().map(\.long)) {
                        let fixed = "--" + close + (inline.map { "=" + $0 } ?? "")
                        throw QueueError.usage("unknown option '--\(name)' for '\(usageName(chain, program))'; did you mean: \(corrected(here, [fixed]))")
                    }
                    throw QueueError.usage("unknown option '--\(name)' for '\(usageName(chain, program))'; see '\(usageName(chain, program)) --help'")
                }
                try take(opt, inline: inline, display: "--\(name)")
            } else if a.hasPrefix("-") && a.count == 2 && a != "--" {
                let c = a.dropFirst().first!
                if c.isNumber, !positional.isEmpty || !spec.arguments.isEmpty {
                    positional.append(a)  // a negative number argument
                    positionalAt.append(i - 1)
                    continue
                }
                guard let opt = options().first(where: { $0.short == c }) else {
                    throw QueueError.usage("unknown option '\(a)' for '\(usageName(chain, program))'; see '\(usageName(chain, program)) --help'")
                }
                try take(opt, inline: nil, display: a)
            } else if !spec.subcommands.isEmpty && positional.isEmpty {
                guard let sub = spec.subcommands.first(where: { $0.name == a }) else {
                    if parsed.values["help"] != nil { break }
                    if let close = Suggest.closest(to: a, in: spec.subcommands.map(\.name)) {
                        throw QueueError.usage("unknown command '\(a)'; did you mean: \(corrected(i - 1, [close]))")
                    }
                    throw QueueError.usage("unknown command '\(a)'; see '\(usageName(chain, program)) --help'")
                }
                spec = sub
                chain.append(sub)
                parsed.path.append(a)
            } else {
                positional.append(a)
                positionalAt.append(i - 1)
            }
        }

        func take(_ opt: OptionSpec, inline: String?, display: String) throws {
            if let _ = opt.valueName {
                let v: String
                if let inl = inline {
                    v = inl
                } else {
                    guard i < args.count else {
                        throw QueueError.usage("option '\(display)' needs a value (\(opt.valueName!)); see '\(usageName(chain, program)) --help'")
                    }
                    v = args[i]
                    i += 1
                }
                if !opt.repeatable, let prev = parsed.values[opt.long], !prev.isEmpty, opt.long != "home" {
                    throw QueueError.usage("option '--\(opt.long)' given twice")
                }
                parsed.values[opt.long, default: []].append(v)
            } else {
                guard inline == nil else { throw QueueError.usage("option '--\(opt.long)' takes no value") }
                parsed.values[opt.long] = [""]
            }
        }

        if parsed.flag("help") { return .help(help(for: chain, program: program)) }
        if !spec.subcommands.isEmpty, let d = spec.defaultSubcommand, let sub = spec.subcommands.first(where: { $0.name == d }), positional.isEmpty {
            spec = sub
            chain.append(sub)
            parsed.path.append(d)
        }
        if !spec.subcommands.isEmpty {
            throw QueueError.usage("'\(usageName(chain, program))' needs a command: \(spec.subcommands.map(\.name).joined(separator: ", ")); see '\(usageName(chain, program)) --help'")
        }
        // Check positional arguments against the declaration.
        let required = spec.arguments.filter { !$0.optional }.count
        let variadic = spec.arguments.contains { $0.variadic }
        if positional.count < required {
            let missing = spec.arguments.filter { !$0.optional }[positional.count]
            throw QueueError.usage("missing argument \(missing.name) for '\(usageName(chain, program))'; see '\(usageName(chain, program)) --help'")
        }
        if !variadic && positional.count > spec.arguments.count {
            if spec.takesRest && !parsed.sawDashDash {
                // Words of a command given without `--` (`enqueue echo hi`): they belong after it,
                // from the first word that is not a required argument.
                let required = spec.arguments.filter { !$0.optional }.count
                let first = positionalAt[required]
                let fixed = Array(args[..<first]) + ["--"] + Array(args[first...])
                throw QueueError.usage("'\(usageName(chain, program))' takes a command after '--' (or as one quoted argument); did you mean: \(ShellWords.line(program, fixed))")
            }
            throw QueueError.usage("unexpected argument '\(positional[spec.arguments.count])' for '\(usageName(chain, program))'; see '\(usageName(chain, program)) --help'")
        }
        parsed.arguments = positional
        return .run(parsed)
    }

    static func usageName(_ chain: [CommandSpec], _ program: String) -> String {
        ([program] + chain.dropFirst().map(\.name)).joined(separator: " ")
    }

    /// Help text, rendered from the declaration.
    public static func help(for chain: [CommandSpec], program: String) -> String {
        let spec = chain.last!
        let name = usageName(chain, program)
        var out = chain.count == 1 ? "\(program) — \(spec.summary)\n\n" : "\(spec.summary)\n\n"
        var usage = "Usage: \(name)"
        if !spec.subcommands.isEmpty {
            usage += " COMMAND"
        } else {
            if !spec.options.isEmpty { usage += " [OPTIONS]" }
            for a in spec.arguments {
                let n = a.variadic ? "\(a.name)…" : a.name
                usage += a.optional ? " [\(n)]" : " \(n)"
            }
            if spec.takesRest { usage += " [-- \(spec.restName)…]" }
        }
        out += usage + "\n"
        func rows(_ items: [(String, String)]) -> String {
            let w = min(28, items.map { $0.0.count }.max() ?? 0)
            return items.map { l, r in
                "  " + l + String(repeating: " ", count: max(1, w - l.count + 2)) + r
            }.joined(separator: "\n") + "\n"
        }
        if !spec.subcommands.isEmpty {
            out += "\nCommands:\n" + rows(spec.subcommands.map { ($0.name, $0.summary) })
        }
        if !spec.arguments.isEmpty {
            out += "\nArguments:\n" + rows(spec.arguments.map { ($0.name, $0.help) })
        }
        let opts = spec.options + (chain.count == 1 ? globalOptions + [OptionSpec("version", help: "print the version")] : globalOptions)
        out += "\nOptions:\n" + rows(opts.map { o in
            var l = o.short.map { "-\($0), " } ?? "    "
            l += "--\(o.long)"
            if let v = o.valueName { l += " \(v)" }
            return (l, o.help + (o.repeatable ? " (repeatable)" : ""))
        })
        if !spec.examples.isEmpty {
            out += "\nExamples:\n" + spec.examples.map { "  " + $0 }.joined(separator: "\n") + "\n"
        }
        if !spec.subcommands.isEmpty {
            out += "\nRun '\(name) COMMAND --help' for more about a command.\n"
        }
        return out
    }
}
