import Foundation

// The one command layer (docs/architecture.md, "Commands"): every command pgha sends to a host
// is shell text of type `Shell`, and the only way to put a value into it is interpolation,
// which quotes the value as one word with `quote(_:)`. Literal text in a `Shell` literal is code
// written in this repository; a `String` variable cannot become code. Programs and their
// arguments are `Command` values (argv + run-as user + working directory + stdin), rendered by
// the same quoting.

/// Quotes one word for a POSIX shell — the only quoting function of pgha. Bare when the word
/// holds only characters no shell treats specially (`ip=192.168.0.28` stays readable); a word
/// `name=value` whose name is plain keeps the name bare and quotes the value
/// (`node_list='db1 db2'`, as the seeds write pcs commands); anything else in single quotes,
/// with `'\''` for a quote. A NUL cannot travel in argv at all (C strings end there): it is
/// dropped, and validation refuses it in every spec value before.
public func quote(_ word: String) -> String {
    let word = word.contains("\0") ? word.replacingOccurrences(of: "\0", with: "") : word
    if !word.isEmpty, !word.hasPrefix("#"), word.unicodeScalars.allSatisfy({ bareScalars.contains($0) }) { return word }
    if let equals = word.firstIndex(of: "="), equals > word.startIndex,
       word[..<equals].unicodeScalars.allSatisfy({ nameScalars.contains($0) }) {
        return word[...equals] + singleQuoted(String(word[word.index(after: equals)...]))
    }
    return singleQuoted(word)
}

private func singleQuoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// Characters that need no quoting anywhere in a word (`#` only after its first character:
/// a word starting with it is a comment).
private let bareScalars = CharacterSet(charactersIn:
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,#")
private let nameScalars = CharacterSet(charactersIn:
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

/// Shell text: code literals from this repository, values quoted by `quote(_:)`.
public struct Shell: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringInterpolation {
    public fileprivate(set) var text: String

    public init(stringLiteral literal: StaticString) { text = literal.description }

    public init(stringInterpolation: StringInterpolation) { text = stringInterpolation.text }

    public var description: String { text }
    public var isEmpty: Bool { text.isEmpty }

    public struct StringInterpolation: StringInterpolationProtocol {
        var text = ""
        public init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity * 2) }
        /// Code, as written in the source.
        public mutating func appendLiteral(_ literal: StaticString) { text += literal.description }
        /// A value: always exactly one quoted word.
        public mutating func appendInterpolation(_ value: String) { text += quote(value) }
        public mutating func appendInterpolation(_ value: Substring) { text += quote(String(value)) }
        public mutating func appendInterpolation<N: BinaryInteger>(_ value: N) { text += String(value) }
        /// Values, each one quoted word, separated by spaces.
        public mutating func appendInterpolation(words: [String]) { text += words.map(quote).joined(separator: " ") }
        /// Shell text built the same way, inserted as code.
        public mutating func appendInterpolation(_ shell: Shell) { text += shell.text }
        public mutating func appendInterpolation(_ command: Command) { text += command.shell.text }
    }

    /// Joins pieces of shell text with `separator` (code).
    public static func join(_ pieces: [Shell], separator: Shell = "; ") -> Shell {
        var joined = Shell("")
        for (i, piece) in pieces.enumerated() {
            if i > 0 { joined.text += separator.text }
            joined.text += piece.text
        }
        return joined
    }

    /// Each piece must succeed for the next to run: `a && b && c`.
    public static func all(_ pieces: [Shell]) -> Shell { join(pieces, separator: " && ") }

    /// Lines of a script, in order.
    public static func lines(_ pieces: [Shell]) -> Shell { join(pieces, separator: "\n") }

    /// The one "wait until" loop: tries `condition` up to `tries` times, `interval` seconds
    /// apart; succeeds as soon as it holds, else prints `failure` on stderr and fails. Run as
    /// a script of its own (it exits).
    public static func waitUntil(_ condition: Shell, tries: Int, interval: Double, failure: String) -> Shell {
        let pause = String(format: "%g", interval)
        return "for i in $(seq \(tries)); do \(condition) && exit 0; sleep \(pause); done; echo \(failure) >&2; exit 1"
    }

    /// The same loop that ends quietly (success) when the condition never held: for a wait
    /// that is followed by a check of its own.
    public static func waitQuietly(until condition: Shell, tries: Int, interval: Double) -> Shell {
        let pause = String(format: "%g", interval)
        return "for i in $(seq \(tries)); do \(condition) && break; sleep \(pause); done"
    }

    /// `{ piece ; }`, grouping as one command.
    public var grouped: Shell { "{ \(self) ; }" }

    private init(_ literal: StaticString) { text = literal.description }

    /// `NAME=value`: a shell variable assignment. The name must be an identifier written in
    /// this repository (it cannot be quoted); the value is shell text built as above.
    public init(assigning name: String, _ value: Shell) {
        precondition(isIdentifier(name), "not a shell variable name: \(name)")
        text = name + "=" + value.text
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: a name the shell takes as a variable (environment) name.
public func isIdentifier(_ name: String) -> Bool {
    guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && CharacterSet.letters.contains(first)) else { return false }
    return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
}

/// One program run on a host: argv values, optionally as another OS user, from a working
/// directory, with bytes on stdin. Rendered to shell text only by `shell`.
public struct Command: Sendable, Hashable, CustomStringConvertible {
    public var argv: [String]
    /// Run as this OS user (`runuser -u USER --`), from `directory` (default `/` for another user:
    /// runuser keeps the caller's directory, which that user may not be allowed into).
    public var user: String?
    public var directory: String?
    /// Environment set for the program only (`env NAME=value …`); names are [A-Za-z_][A-Za-z0-9_]*.
    public var environment: [(String, String)]
    /// Bytes the program reads on stdin: secrets travel here, never in argv.
    public var stdin: Data?

    public init(_ argv: [String], user: String? = nil, directory: String? = nil,
                environment: [(String, String)] = [], stdin: Data? = nil) {
        precondition(!argv.isEmpty, "a command needs a program")
        self.argv = argv
        self.user = user
        self.directory = directory ?? (user == nil ? nil : "/")
        self.environment = environment
        self.stdin = stdin
    }

    public init(_ program: String, _ arguments: String..., user: String? = nil, stdin: Data? = nil) {
        self.init([program] + arguments, user: user, stdin: stdin)
    }

    /// The same command with more arguments.
    public func appending(_ arguments: [String]) -> Command {
        var copy = self
        copy.argv += arguments
        return copy
    }

    public func appending(_ arguments: String...) -> Command { appending(arguments) }

    /// The same command with `bytes` on stdin.
    public func feeding(_ bytes: Data) -> Command {
        var copy = self
        copy.stdin = bytes
        return copy
    }

    /// The command as shell text. Environment names that are not valid names are left out
    /// (a name cannot be quoted); the spec's grammar refuses them long before.
    public var shell: Shell { shell(then: nil) }

    /// The command with more arguments that are shell text — expansions of variables the
    /// script checked before (`"$tl"`), never text from outside — after its quoted argv.
    public func shell(then extra: Shell?) -> Shell {
        var words: [String] = []
        if let user { words += ["runuser", "-u", user, "--"] }
        let names = environment.filter { isIdentifier($0.0) }
        if !names.isEmpty { words += ["env"] + names.map { "\($0.0)=\($0.1)" } }
        // A first word that looks like an assignment would be one: quote it whole.
        let program = words.isEmpty && argv[0].contains("=") ? singleQuoted(argv[0]) : nil
        words += argv
        var shell: Shell = "\(words: words)"
        if let program { shell.text = program + String(shell.text.dropFirst(quote(argv[0]).count)) }
        if let extra { shell.text += " " + extra.text }
        // In a subshell: the directory change stays with this command, not the script around it.
        if let directory { shell = "(cd \(directory) && \(shell))" }
        return shell
    }

    /// What a person reads in an error or in `-v`: the words, and that stdin carried bytes.
    public var description: String {
        shell.text + (stdin == nil ? "" : " (input on stdin)")
    }

    public static func == (a: Command, b: Command) -> Bool {
        a.argv == b.argv && a.user == b.user && a.directory == b.directory && a.stdin == b.stdin
            && a.environment.map { [$0.0, $0.1] } == b.environment.map { [$0.0, $0.1] }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(argv)
        hasher.combine(user)
        hasher.combine(directory)
    }
}

/// A fresh random word, for markers a host cannot predict (fact framing).
public func randomMarker(prefix: String = "pgha") -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) }
    return prefix + "-" + bytes.map { String(format: "%02x", $0) }.joined()
}
