import Foundation
import Yams

/// Reads a YAML file into a Yams node tree, turning every way a file can be wrong (missing, a
/// directory, unreadable, huge, binary, not UTF-8, bad YAML, duplicate keys) into a diagnostic.
public enum YAMLSource {
    /// Larger than any sane cluster spec; protects against accidental multi-GB inputs.
    public static let maxBytes = 1 << 20
    /// Aliases are a convenience; thousands of them are an attack ("billion laughs").
    public static let maxAliases = 256

    public static func load(path: String, displayPath: String? = nil) -> (Node?, [Diagnostic]) {
        let shown = displayPath ?? path
        func fail(_ message: String) -> (Node?, [Diagnostic]) {
            (nil, [Diagnostic(file: shown, line: 0, column: 0, message: message)])
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return fail("no such file; check the path")
        }
        if isDirectory.boolValue { return fail("is a directory, not a YAML file") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return fail("cannot be read (permission denied?); check its mode and owner")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maxBytes + 1)) ?? Data()
        if data.count > maxBytes {
            return fail("is larger than \(maxBytes / 1024) KiB; a cluster spec is a few KiB, is this the right file?")
        }
        return parse(data: data, file: shown)
    }

    public static func parse(data: Data, file: String) -> (Node?, [Diagnostic]) {
        func fail(_ line: Int, _ column: Int, _ message: String) -> (Node?, [Diagnostic]) {
            // A duplicate key or libyaml's context may quote the input: never a raw control character.
            (nil, [Diagnostic(file: file, line: line, column: column, message: Grammar.escaped(message))])
        }
        if data.contains(0) { return fail(0, 0, "contains NUL bytes: this is a binary file, not YAML") }
        guard let text = String(data: data, encoding: .utf8) else {
            return fail(0, 0, "is not valid UTF-8 text; save it as UTF-8")
        }
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return fail(0, 0, "is empty; see README.md for the spec reference and specs/ for examples")
        }
        if let (line, column) = firstTabIndent(in: text) {
            return fail(line, column, "tab character used for indentation; YAML allows spaces only")
        }
        if aliasCount(in: text) > maxAliases {
            return fail(0, 0, "uses more than \(maxAliases) aliases (*name); refusing to expand it")
        }
        do {
            guard let node = try Yams.compose(yaml: text) else {
                return fail(0, 0, "holds no YAML document")
            }
            return (node, [])
        } catch let error as YamlError {
            switch error {
            case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
                 let .composer(context, problem, mark, _):
                let where_ = context.map { " (\($0.text))" } ?? ""
                return fail(mark.line, mark.column, "invalid YAML: \(problem)\(where_)")
            case let .duplicatedKeysInMapping(duplicates, context):
                let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
                return fail(context.mark.line, context.mark.column,
                            "duplicate key \(keys) in the same mapping; keep one of them")
            case let .reader(problem, _, _, _):
                return fail(0, 0, "cannot be read as YAML: \(problem)")
            default:
                return fail(0, 0, "invalid YAML: \(error)")
            }
        } catch {
            return fail(0, 0, "invalid YAML: \(error)")
        }
    }

    /// libyaml's own message for a leading tab is cryptic ("found character that cannot start
    /// any token"); find it first and say what it is.
    static func firstTabIndent(in text: String) -> (Int, Int)? {
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var column = 0
            for character in line {
                column += 1
                if character == "\t" { return (lineNumber, column) }
                if character != " " && character != "-" { break }
            }
        }
        return nil
    }

    static func aliasCount(in text: String) -> Int {
        var count = 0
        var previous: Character = "\n"
        var inQuote: Character? = nil
        for character in text {
            if let quote = inQuote {
                if character == quote { inQuote = nil }
            } else if character == "\"" || character == "'" {
                if " \n[{,:-".contains(previous) { inQuote = character }
            } else if character == "*", " \n[{,:-".contains(previous) {
                count += 1
            } else if character == "#", " \n".contains(previous) {
                // comments may say anything; skipping them exactly is not worth a parser here
            }
            previous = character
        }
        return count
    }
}

/// Walks a node tree for one schema, collecting diagnostics instead of stopping at the first,
/// and remembering where each value came from so later semantic checks can point at it.
public final class NodeReader {
    public let file: String
    public private(set) var diagnostics: [Diagnostic] = []
    /// path ("nodes[1].address") → position of its value
    public private(set) var marks: [String: (line: Int, column: Int)] = [:]
    /// path ("postgresql.settings.work_mem") → position of its key, for checks of the key itself
    public private(set) var keyMarks: [String: (line: Int, column: Int)] = [:]
    /// Paths (escaped) refused for a control character: what lies there is not reported again.
    private var refused: Set<String> = []

    public init(file: String) { self.file = file }

    public func error(_ path: String, _ message: String, at node: Node? = nil) {
        report(.error, path, message, at: node)
    }

    public func warning(_ path: String, _ message: String, at node: Node? = nil) {
        report(.warning, path, message, at: node)
    }

    /// An error about a mapping key (a setting's or variable's name), at the key.
    public func keyError(_ path: String, _ message: String) {
        let position = keyMarks[path] ?? marks[path] ?? nearestMark(path)
        append(.error, path, message, at: position)
    }

    func report(_ severity: Diagnostic.Severity, _ path: String, _ message: String, at node: Node?) {
        let position = node?.mark.map { ($0.line, $0.column) } ?? marks[path] ?? nearestMark(path)
        append(severity, path, message, at: position)
    }

    /// Control characters in paths and messages are escaped, and a diagnostic is given once
    /// (an inventory's `defaults:` value is checked for every host that uses it).
    private func append(_ severity: Diagnostic.Severity, _ path: String, _ message: String, at position: (Int, Int)) {
        let shownPath = Grammar.escaped(path)
        if refused.contains(where: { shownPath == $0 || shownPath.hasPrefix($0 + ".") || shownPath.hasPrefix($0 + "[") }) {
            return
        }
        let text = Grammar.escaped(path.isEmpty ? message : "\(shownPath): \(message)")
        let diagnostic = Diagnostic(file: file, line: position.0, column: position.1, severity: severity, message: text)
        if !diagnostics.contains(diagnostic) { diagnostics.append(diagnostic) }
    }

    /// Refuses every scalar of the tree, key or value, that holds a control character, at the
    /// scalar: no field of the spec or the inventory may carry a line break, tab, NUL or escape
    /// into a shell command or a configuration file. Later checks of those paths stay silent.
    public func refuseControlCharacters(_ root: Node) {
        // An alias is the node it names, composed again at each use: walk a collection once, by
        // its position, or a few hundred aliases expand to billions of nodes (alias-bomb.yaml).
        var walked = Set<String>()
        func walk(_ node: Node, _ path: String, isKey: Bool = false) {
            if node.mapping != nil || node.sequence != nil, let mark = node.mark,
               !walked.insert("\(node.mapping != nil ? "m" : "s")\(mark.line):\(mark.column)").inserted {
                return
            }
            switch node {
            case .scalar(let scalar):
                guard let control = Grammar.firstControl(in: scalar.string) else { return }
                let shown = scalar.string.count > 60 ? String(scalar.string.prefix(57)) + "..." : scalar.string
                let what = isKey ? "the key" : "the value"
                error(path, "\(what) '\(Grammar.escaped(shown))' contains a control character "
                    + "(\(Grammar.controlName(control))); values reach shell commands and configuration files "
                    + "on the hosts, write it on one line without control characters", at: node)
                refused.insert(Grammar.escaped(path))
            case .mapping(let mapping):
                for (key, value) in mapping {
                    let name = key.scalar?.string ?? ""
                    let childPath = path.isEmpty ? name : "\(path).\(name)"
                    walk(key, key.scalar == nil ? path : childPath, isKey: true)
                    walk(value, childPath)
                }
            case .sequence(let sequence):
                for (i, item) in sequence.enumerated() { walk(item, "\(path)[\(i)]") }
            case .alias:
                break  // composing resolves aliases to the nodes they name
            }
        }
        walk(root, "")
    }

    /// A path's position, or its closest recorded ancestor's ("nodes[1]" for "nodes[1].name").
    public func nearestMark(_ path: String) -> (Int, Int) {
        var path = path
        while !path.isEmpty {
            if let mark = marks[path] { return (mark.line, mark.column) }
            if let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) {
                path = String(path[..<cut])
            } else { break }
        }
        return (1, 1)
    }

    func remember(_ path: String, _ node: Node) {
        if let mark = node.mark { marks[path] = (mark.line, mark.column) }
    }

    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): return scalar.string.isEmpty || isNull(node) ? "an empty value" : "'\(scalar.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    // MARK: Mappings

    /// A mapping whose keys must all be in `allowed`; unknown keys are reported with a hint.
    public func mapping(_ node: Node?, _ path: String, allowed: [String], required: [String] = []) -> Fields? {
        guard let node else { return nil }
        remember(path, node)
        guard case .mapping(let mapping) = node else {
            error(path, "expected a mapping with keys \(allowed.prefix(6).joined(separator: ", "))\(allowed.count > 6 ? ", …" : ""), found \(Self.describe(node))", at: node)
            return nil
        }
        var fields: [String: Node] = [:]
        var order: [String] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                error(path, "mapping keys must be plain names, found \(Self.describe(keyNode))", at: keyNode)
                continue
            }
            let childPath = path.isEmpty ? key.string : "\(path).\(key.string)"
            if let mark = keyNode.mark { keyMarks[childPath] = (mark.line, mark.column) }
            if !allowed.isEmpty && !allowed.contains(key.string) {
                let hint = closestMatch(key.string, in: allowed).map { "; did you mean '\($0)'?" }
                    ?? "; allowed keys: \(allowed.joined(separator: ", "))"
                error(childPath, "unknown key '\(key.string)'\(hint)", at: keyNode)
                continue
            }
            remember(childPath, value)
            fields[key.string] = value
            order.append(key.string)
        }
        for key in required where fields[key] == nil || Self.isNull(fields[key]!) {
            if fields[key] == nil {
                error(path, "missing required key '\(key)'", at: node)
            } else {
                error(path.isEmpty ? key : "\(path).\(key)", "must not be empty", at: fields[key])
            }
        }
        return Fields(path: path, values: fields, order: order, node: node)
    }

    /// A mapping whose keys are free-form (settings, properties): scalar values only.
    public func scalarMap(_ node: Node?, _ path: String) -> [(key: String, value: String)]? {
        guard let node else { return nil }
        remember(path, node)
        guard case .mapping(let mapping) = node else {
            error(path, "expected a mapping of names to values, found \(Self.describe(node))", at: node)
            return nil
        }
        var result: [(String, String)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                error(path, "keys must be plain names", at: keyNode)
                continue
            }
            let childPath = "\(path).\(key.string)"
            remember(childPath, value)
            if let mark = keyNode.mark { keyMarks[childPath] = (mark.line, mark.column) }
            guard case .scalar(let scalar) = value else {
                error(childPath, "expected a single value, found \(Self.describe(value))", at: value)
                continue
            }
            result.append((key.string, scalar.string))
        }
        return result
    }

    /// The keys of a free-form mapping whose value is null (`key: null`, `key: ~`, `key:`):
    /// "not set by pgha", which removes one of pgha's defaults.
    public func nullKeys(_ node: Node?) -> Set<String> {
        guard case .mapping(let mapping)? = node else { return [] }
        var keys = Set<String>()
        for (key, value) in mapping { if case .scalar(let k) = key, Self.isNull(value) { keys.insert(k.string) } }
        return keys
    }

    // MARK: Scalars

    public func string(_ node: Node?, _ path: String, allowEmpty: Bool = false) -> String? {
        guard let node else { return nil }
        remember(path, node)
        guard case .scalar(let scalar) = node else {
            error(path, "expected a single value, found \(Self.describe(node))", at: node)
            return nil
        }
        if !allowEmpty && (Self.isNull(node) || scalar.string.trimmingCharacters(in: .whitespaces).isEmpty) {
            error(path, "must not be empty", at: node)
            return nil
        }
        return scalar.string
    }

    public func int(_ node: Node?, _ path: String, range: ClosedRange<Int>? = nil) -> Int? {
        guard let text = string(node, path) else { return nil }
        guard let value = Int(text) else {
            error(path, "expected a whole number, found '\(text)'", at: node)
            return nil
        }
        if let range, !range.contains(value) {
            error(path, "\(value) is out of range \(range.lowerBound)–\(range.upperBound)", at: node)
            return nil
        }
        return value
    }

    /// Only `true`/`false`: YAML 1.1's yes/no/on/off are too easy to write by accident.
    public func bool(_ node: Node?, _ path: String) -> Bool? {
        guard let text = string(node, path) else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default:
            error(path, "expected true or false, found '\(text)'", at: node)
            return nil
        }
    }

    public func choice<T: RawRepresentable & CaseIterable>(_ node: Node?, _ path: String, _ type: T.Type) -> T? where T.RawValue == String {
        guard let text = string(node, path) else { return nil }
        if let value = T(rawValue: text) { return value }
        let names = T.allCases.map(\.rawValue)
        let hint = closestMatch(text, in: names).map { "; did you mean '\($0)'?" } ?? ""
        error(path, "'\(text)' is not one of \(names.joined(separator: ", "))\(hint)", at: node)
        return nil
    }

    public func sequence(_ node: Node?, _ path: String) -> [Node]? {
        guard let node else { return nil }
        remember(path, node)
        guard case .sequence(let sequence) = node else {
            error(path, "expected a list, found \(Self.describe(node))", at: node)
            return nil
        }
        return Array(sequence)
    }

    public func stringList(_ node: Node?, _ path: String) -> [String]? {
        guard let items = sequence(node, path) else { return nil }
        return items.enumerated().compactMap { string($1, "\(path)[\($0)]") }
    }

    /// `{env: NAME}` or `{file: PATH}`; a plaintext value is refused with the reference form.
    public func secret(_ node: Node?, _ path: String, suggestedEnv: String) -> SecretRef? {
        guard let node else { return nil }
        remember(path, node)
        if case .scalar = node {
            error(path, "a plaintext secret is not allowed in the spec; write a reference instead: "
                + "{env: \(suggestedEnv)} or {file: /etc/pgha/secret-file}", at: node)
            return nil
        }
        guard let fields = mapping(node, path, allowed: ["env", "file"]) else { return nil }
        if fields.has("env") == fields.has("file") {
            error(path, "give exactly one of 'env' or 'file'", at: node)
            return nil
        }
        if let name = string(fields["env"], "\(path).env") {
            guard Grammar.matches(name, Grammar.environmentName) else {
                error("\(path).env", "'\(name)' is not an environment variable name", at: fields["env"])
                return nil
            }
            return .env(name)
        }
        if let file = string(fields["file"], "\(path).file") {
            // Reported, not dropped: the load fails on the error and the other checks still run.
            if let problem = Grammar.absolutePathProblem(file) {
                error("\(path).file", "'\(file)' \(problem)", at: fields["file"])
            }
            return .file(file)
        }
        return nil
    }
}

/// The checked keys of one mapping.
public struct Fields {
    public let path: String
    public let values: [String: Node]
    public let order: [String]
    public let node: Node
    public subscript(_ key: String) -> Node? {
        guard let value = values[key], !NodeReader.isNull(value) else { return nil }
        return value
    }
    public func has(_ key: String) -> Bool { self[key] != nil }
    /// The key is given, as null (`key: null`, `key: ~`, `key:`).
    public func isNull(_ key: String) -> Bool { values[key].map(NodeReader.isNull) ?? false }
    public func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}
