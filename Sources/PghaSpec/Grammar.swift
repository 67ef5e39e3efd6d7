import Foundation

/// The grammars of the free-form values of the spec and the inventory. The values reach root
/// shells (Sources/PghaShell) and configuration files on the hosts (templates/), so each grammar
/// is an allow-list: what it does not name is refused at `validate`, with the value's position.
public enum Grammar {
    /// Whole-string match. ICU's `$` also matches before a final newline ("db1\n" would pass
    /// `^[a-z0-9]+$`), so patterns are written bare and anchored here with `\A` and `\z`.
    public static func matches(_ text: String, _ pattern: String) -> Bool {
        text.range(of: "\\A(?:\(pattern))\\z", options: .regularExpression) != nil
    }

    // MARK: Control characters

    /// C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F): line breaks, tabs, NUL, ESC, ….
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    public static func firstControl(in text: String) -> Unicode.Scalar? {
        text.unicodeScalars.first(where: isControl)
    }

    /// "newline", "NUL", … or "U+001B" for the rest.
    public static func controlName(_ scalar: Unicode.Scalar) -> String {
        switch scalar.value {
        case 0x00: return "NUL"
        case 0x09: return "tab"
        case 0x0A: return "newline"
        case 0x0D: return "carriage return"
        case 0x1B: return "escape"
        case 0x7F: return "delete"
        default: return String(format: "U+%04X", scalar.value)
        }
    }

    /// The text with every control character written as an escape (`\n`, `\0`, `\u{1B}`), so a
    /// diagnostic never puts one on the user's terminal.
    public static func escaped(_ text: String) -> String {
        guard firstControl(in: text) != nil else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x00: result += "\\0"
            case 0x09: result += "\\t"
            case 0x0A: result += "\\n"
            case 0x0D: result += "\\r"
            case _ where isControl(scalar): result += String(format: "\\u{%X}", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    // MARK: Paths

    /// What is wrong with an absolute path on a host, or nil: it starts with '/', its components
    /// hold letters, digits and `. _ + @ % , : = -` only, none is '.' or '..', and it is not '/'.
    /// The text follows the quoted path in a message: "'/opt/a b' must be a plain path: …".
    public static func absolutePathProblem(_ path: String) -> String? {
        if !path.hasPrefix("/") { return "must be an absolute path" }
        if path == "/" { return "cannot be used here" }
        return pathCharactersProblem(path, relative: false)
    }

    /// A path on the machine running pgha (inventory keys, known_hosts, ssh_config): absolute,
    /// `~/…`, or relative to the inventory's folder, where '..' may climb out of it.
    public static func localPathProblem(_ path: String) -> String? {
        if path.hasPrefix("/") { return absolutePathProblem(path) }
        let rest = path.hasPrefix("~/") ? String(path.dropFirst(2)) : path
        if rest.isEmpty || rest.hasPrefix("/") { return "must name a file" }
        return pathCharactersProblem(rest, relative: !path.hasPrefix("~/"))
    }

    static func pathCharactersProblem(_ path: String, relative: Bool) -> String? {
        let allowed = "letters, digits and . _ + @ % , : = - (no spaces, quotes or shell characters)"
        if let bad = path.unicodeScalars.first(where: { !isPathCharacter($0) && $0 != "/" }) {
            return "must be a plain path: \(describe(bad)) is not allowed; use \(allowed)"
        }
        if path.contains("//") { return "must be a plain path: '//' is not allowed" }
        if path.count > 1, path.hasSuffix("/") { return "must be a plain path without a trailing '/'" }
        let components = path.split(separator: "/")
        if !relative, let dots = components.first(where: { $0 == "." || $0 == ".." }) {
            return "must be a plain path: '\(dots)' is not allowed as a component"
        }
        if path.utf8.count > 4095 || components.contains(where: { $0.utf8.count > 255 }) {
            return "is too long (at most 4095 bytes, 255 per component)"
        }
        return nil
    }

    static func isPathCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._+@%,:=-".unicodeScalars.contains(scalar))
    }

    /// "'$'", "a space", "newline" — a character named for a message, never printed raw.
    public static func describe(_ scalar: Unicode.Scalar) -> String {
        if isControl(scalar) { return "a control character (\(controlName(scalar)))" }
        if scalar == " " { return "a space" }
        if !scalar.isASCII { return String(format: "U+%04X", scalar.value) }
        return "'\(Character(scalar))'"
    }

    // MARK: Names

    /// One RFC 1123 label: letters, digits and '-', not at either end, at most 63.
    static let label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    /// Node names: one lower-case label (the pgsql agent compares node_list in lower case).
    public static let nodeName = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"

    /// A host name (RFC 1123): dot-separated labels, at most 253 characters; a name of digits and
    /// dots only must be an IPv4 address.
    public static func isHostName(_ text: String) -> Bool {
        guard text.utf8.count <= 253, matches(text, "\(label)(?:\\.\(label))*") else { return false }
        return !matches(text, "[0-9.]+") || IPv4(text) != nil
    }

    public static func isHostNameOrIPv4(_ text: String) -> Bool { IPv4(text) != nil || isHostName(text) }

    /// Unix user and group names (useradd's default NAME_REGEX).
    public static let userName = "[a-z_][a-z0-9_-]{0,31}"
    /// Environment variable names, also of `env:` secret references.
    public static let environmentName = "[A-Za-z_][A-Za-z0-9_]*"
    /// Debian and RPM package names, no version or architecture suffix (specs/ use none).
    public static let packageName = "[A-Za-z0-9][A-Za-z0-9+._-]*"
    public static let sourceVersion = "[0-9]+(?:\\.[0-9]+)*"

    /// Option values: a word of letters, digits and `_ . / : + , @ % = -`, no spaces or quotes.
    static let optionValue = "[A-Za-z0-9_./:+,@%=-]*"
    /// `--with-openssl`, `--with-includes=/usr/include/openssl`, `-k`.
    public static let option = "--?[A-Za-z0-9][A-Za-z0-9_-]*(?:=\(optionValue))?"
    /// initdb: one-letter short options (`-k`) or long ones with their value after '='
    /// (`--encoding=UTF8`); each is one argument, so `-E UTF8` is written `--encoding=UTF8`.
    public static let initdbOption = "-[A-Za-z]|--[A-Za-z0-9][A-Za-z0-9_-]*(?:=\(optionValue))?"
    /// configure also takes `VAR=VALUE` (specs/testbed-source.yaml: `CFLAGS=-O0`).
    public static let configureFlag = "\(option)|[A-Za-z_][A-Za-z0-9_]*=\(optionValue)"

    /// pg_hba.conf database and user fields: comma-separated keywords (all, sameuser, samerole,
    /// replication), names, and +group; no spaces, quotes, '#' or @file inclusions.
    public static let hbaNames = "\\+?[A-Za-z_][A-Za-z0-9_$-]*(?:,\\+?[A-Za-z_][A-Za-z0-9_$-]*)*"

    /// Pacemaker ids (resources, groups, clones, fencing devices).
    public static let pacemakerID = "[A-Za-z_][A-Za-z0-9_.-]*"
    /// Names of resource defaults, meta attributes and fencing device parameters.
    public static let pacemakerName = "[A-Za-z_][A-Za-z0-9_.-]*"
    /// Cluster property names (no-quorum-policy, stonith-enabled).
    public static let propertyName = "[a-z][a-z0-9-]*"
    public static let operationName = "[a-z][a-z-]*"
    public static let role = "[A-Za-z]+"
    /// Operation timeouts and intervals (Sources/PghaSpec/Defaults.swift: 60s, 0s).
    public static let duration = "[0-9]+(?:ms|s|m|min|h)?"
    public static let fenceAgent = "fence_[A-Za-z0-9_]+"
    /// libpq connection keywords (keepalives_idle, sslmode).
    public static let conninfoKey = "[a-z_]+"
    /// Values of replication.conninfo_options: Sources/PghaRender/PcsCommands.swift joins them
    /// unquoted into primary_conninfo_opt, which the pgsql agent puts inside '…' in the standby's
    /// configuration, so a space would add a keyword and a quote would end the string.
    public static let conninfoValue = "[A-Za-z0-9_./:+,@%=-]+"
    /// PostgreSQL setting names, with one optional `extension.` qualifier.
    public static let settingName = "[a-z_][a-z0-9_]*(?:\\.[a-z_][a-z0-9_]*)?"

    // MARK: Booleans

    /// How Pacemaker reads a boolean (crm_is_true): true, on, yes, y or 1 in any case; every other
    /// value is false. Sources/PghaRuntime/CIBValue.swift reads the live CIB through it.
    public static func pacemakerIsTrue(_ value: String) -> Bool {
        ["true", "on", "yes", "y", "1"].contains(value.lowercased())
    }

    /// Whether Pacemaker accepts the value as a boolean at all (either spelling); an option
    /// whose value it does not accept keeps its default.
    public static func isPacemakerBoolean(_ value: String) -> Bool {
        pacemakerIsTrue(value) || ["false", "off", "no", "n", "0"].contains(value.lowercased())
    }

    /// How PostgreSQL reads a boolean setting: any unambiguous prefix of true, false, yes or no,
    /// on or off (at least "on"/"of"), 1 or 0, in any case; nil when it is none of them.
    public static func postgresBoolean(_ value: String) -> Bool? {
        let text = value.lowercased()
        guard !text.isEmpty else { return nil }
        if text == "1" { return true }
        if text == "0" { return false }
        if "true".hasPrefix(text) || "yes".hasPrefix(text) { return true }
        if "false".hasPrefix(text) || "no".hasPrefix(text) { return false }
        if text == "on" { return true }
        if text.count >= 2, "off".hasPrefix(text) { return false }
        return nil
    }

    /// A fence agent parameter whose name marks a secret (password, passwd, snmp_priv_passwd,
    /// community, secret, token, api_key, …); the agents' `*_script` and `*_file` parameters
    /// (password_script, identity_file) name where the secret is, and are fine.
    public static func namesASecret(_ name: String) -> Bool {
        let name = name.lowercased()
        if name.hasSuffix("_script") || name.hasSuffix("_file") || name.hasSuffix("_path") { return false }
        return ["passw", "secret", "token", "community", "credential"].contains { name.contains($0) }
            || name == "key" || name.hasSuffix("_key") || name.hasPrefix("key_") || name.contains("privkey") || name.contains("priv_pass")
    }
}
