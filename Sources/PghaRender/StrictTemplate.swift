import Foundation
import PghaSpec
import Stencil

/// Stencil renders a missing variable as an empty string, which in a config file is a silent
/// bug (`archive_command = ''`). Before rendering, every variable a template names is resolved
/// against the actual context (loop variables bound to every element they will take), and a
/// name that does not resolve is an error at `template:line:column`.
public struct StrictTemplate: Sendable {
    public let name: String
    public let text: String

    public init(name: String, text: String) {
        self.name = name
        self.text = text
    }

    public func render(_ context: [String: Any]) throws -> String {
        let problems = check(context)
        if !problems.isEmpty { throw DiagnosticsError(problems) }
        do {
            let environment = Environment(loader: nil, trimBehaviour: .smart)
            return try environment.renderTemplate(string: text, context: context)
        } catch let error as TemplateSyntaxError {
            let (line, column) = position(of: error.token)
            throw DiagnosticsError([Diagnostic(file: name, line: line, column: column, message: "template: \(error.reason)")])
        } catch let error as DiagnosticsError {
            throw error
        } catch {
            throw DiagnosticsError([Diagnostic(file: name, line: 0, column: 0, message: "template: \(error)")])
        }
    }

    func position(of token: Token?) -> (Int, Int) {
        guard let token else { return (0, 0) }
        let location = token.sourceMap.location
        return (Int(location.lineNumber), location.lineOffset + 1)
    }

    // MARK: The check

    struct Tag {
        var kind: Character          // "{" variable, "%" block
        var body: String
        var line: Int
        var column: Int              // column of the body's first character
    }

    func tags() -> [Tag] {
        var result: [Tag] = []
        let chars = Array(text)
        var i = 0, line = 1, column = 1
        func advance() {
            if chars[i] == "\n" { line += 1; column = 1 } else { column += 1 }
            i += 1
        }
        while i < chars.count {
            if chars[i] == "{", i + 1 < chars.count, chars[i + 1] == "{" || chars[i + 1] == "%" || chars[i + 1] == "#" {
                let kind = chars[i + 1]
                let close: Character = kind == "{" ? "}" : kind
                advance(); advance()
                let (startLine, startColumn) = (line, column)
                var body = ""
                while i < chars.count, !(chars[i] == close && i + 1 < chars.count && chars[i + 1] == "}") {
                    body.append(chars[i])
                    advance()
                }
                if i < chars.count { advance(); advance() }
                if kind != "#" { result.append(Tag(kind: kind, body: body, line: startLine, column: startColumn)) }
            } else {
                advance()
            }
        }
        return result
    }

    public func check(_ context: [String: Any]) -> [Diagnostic] {
        var problems: [Diagnostic] = []
        var scopes: [[String: [Any]]] = []   // loop variable → every value it takes
        func report(_ tag: Tag, _ path: String, _ message: String) {
            let offset = tag.body.range(of: path).map { tag.body.distance(from: tag.body.startIndex, to: $0.lowerBound) } ?? 0
            problems.append(Diagnostic(file: name, line: tag.line, column: tag.column + offset, message: message))
        }
        func verify(_ path: String, _ tag: Tag) {
            guard let first = path.split(separator: ".").first.map(String.init) else { return }
            if first == "forloop" || isLiteral(path) { return }
            var candidates: [Any]
            if let bound = scopes.reversed().first(where: { $0[first] != nil })?[first] {
                candidates = bound
            } else if let value = context[first] {
                candidates = [value]
            } else {
                let known = Array(context.keys) + scopes.flatMap(\.keys)
                let hint = closestMatch(first, in: known).map { "; did you mean '\($0)'?" } ?? ""
                report(tag, path, "unknown variable '\(first)'\(hint)")
                return
            }
            var walked = first
            for component in path.split(separator: ".").dropFirst().map(String.init) {
                var next: [Any] = []
                for candidate in candidates {
                    if let value = member(component, of: candidate) {
                        next.append(value)
                    } else {
                        let keys = (candidate as? [String: Any]).map { Array($0.keys) } ?? []
                        let hint = closestMatch(component, in: keys).map { "; did you mean '\(walked).\($0)'?" } ?? ""
                        report(tag, path, "unknown variable '\(walked).\(component)'\(hint)")
                        return
                    }
                }
                candidates = next
                walked += "." + component
            }
        }
        for tag in tags() {
            let body = tag.body.trimmingCharacters(in: .whitespaces)
            if tag.kind == "{" {
                let base = body.split(separator: "|", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                let filters = body.split(separator: "|").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
                if filters.contains(where: { $0.hasPrefix("default") }) { continue }
                verify(base, tag)
                continue
            }
            let words = body.split(separator: " ").map(String.init)
            switch words.first {
            case "for":
                // {% for x in path %} / {% for key, value in path %}
                guard let inIndex = words.firstIndex(of: "in"), inIndex + 1 < words.count else { break }
                let names = words[1..<inIndex].joined().split(separator: ",").map(String.init)
                let source = words[inIndex + 1]
                verify(source, tag)
                let elements = resolveAll(source, context: context, scopes: scopes)
                var scope: [String: [Any]] = [:]
                if names.count == 1 { scope[names[0]] = elements } else {
                    scope[names[0]] = elements
                    if names.count > 1 { scope[names[1]] = elements }
                }
                scopes.append(scope)
            case "endfor":
                if !scopes.isEmpty { scopes.removeLast() }
            case "if", "elif", "ifnot":
                for word in words.dropFirst() where !Self.operators.contains(word) && !isLiteral(word) {
                    verify(word, tag)
                }
            default:
                break
            }
        }
        return problems
    }

    static let operators: Set<String> = ["and", "or", "not", "in", "==", "!=", "<", ">", "<=", ">="]

    func isLiteral(_ word: String) -> Bool {
        word.hasPrefix("\"") || word.hasPrefix("'") || Double(word) != nil || word == "true" || word == "false"
    }

    func member(_ name: String, of value: Any) -> Any? {
        if let dictionary = value as? [String: Any] { return dictionary[name] }
        if let array = value as? [Any] {
            switch name {
            case "count": return array.count
            case "first": return array.first ?? ""
            case "last": return array.last ?? ""
            default: return Int(name).flatMap { array.indices.contains($0) ? array[$0] : nil }
            }
        }
        if let string = value as? String, name == "count" { return string.count }
        return nil
    }

    func resolveAll(_ path: String, context: [String: Any], scopes: [[String: [Any]]]) -> [Any] {
        let parts = path.split(separator: ".").map(String.init)
        guard let first = parts.first else { return [] }
        var values: [Any] = scopes.reversed().first(where: { $0[first] != nil })?[first] ?? (context[first].map { [$0] } ?? [])
        for part in parts.dropFirst() { values = values.compactMap { member(part, of: $0) } }
        return values.flatMap { ($0 as? [Any]) ?? [] }
    }
}
