/// Command lines as a shell reads them: "did you mean" suggestions print a line the user can
/// paste, and `enqueue -- CMD ARGS…` joins its words back into one command.
public enum ShellWords {
    /// `s` as one shell word: unchanged when it is safe, else in single quotes.
    public static func quote(_ s: String) -> String {
        let safe = s.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || "-_./=:,@%+".contains($0) }
        if safe && !s.isEmpty { return s }
        var out = "'"
        for c in s { if c == "'" { out += "'\\''" } else { out.append(c) } }
        return out + "'"
    }

    /// A whole command line: `program` and each argument quoted.
    public static func line(_ program: String, _ args: [String]) -> String {
        ([program] + args.map(quote)).joined(separator: " ")
    }
}
