import Foundation
import PghaSpec

// Equivalent values: how Pacemaker compares what pcs and the CIB write (split from ClusterConfig.swift).

/// How Pacemaker reads a value, so that two spellings of the same thing compare equal.
public enum CIBValue {
    /// Milliseconds of a Pacemaker duration: `60` (seconds), `60s`, `1min`, `60000ms`, `1h`,
    /// or ISO 8601 `PT1M`.
    public static func milliseconds(_ text: String) -> Int? {
        let value = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !value.isEmpty else { return nil }
        if value.hasPrefix("pt") || value.hasPrefix("p") { return iso8601(value) }
        let digits = value.prefix { $0.isNumber }
        guard !digits.isEmpty, let number = Int(digits) else { return nil }
        let unit = value.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        switch unit {
        case "", "s", "sec", "secs", "second", "seconds": return number * 1000
        case "ms", "msec", "msecs": return number
        case "us", "usec", "usecs": return number / 1000
        case "m", "min", "mins", "minute", "minutes": return number * 60_000
        case "h", "hr", "hrs", "hour", "hours": return number * 3_600_000
        default: return nil
        }
    }

    static func iso8601(_ value: String) -> Int? {
        // PnDTnHnMnS, the subset Pacemaker users write for intervals.
        var total = 0, number = "", inTime = false
        for character in value.dropFirst() {
            if character == "t" { inTime = true; continue }
            if character.isNumber { number.append(character); continue }
            guard let n = Int(number) else { return nil }
            number = ""
            switch (character, inTime) {
            case ("d", false): total += n * 86_400_000
            case ("h", true): total += n * 3_600_000
            case ("m", true): total += n * 60_000
            case ("s", true): total += n * 1000
            default: return nil
            }
        }
        return number.isEmpty ? total : nil
    }

    /// Pacemaker's crm_is_true/false (Grammar, the one reading of its spellings). The short
    /// ones (1/0, y/n) count only where a boolean is expected (`numbers`), so
    /// migration-threshold=1 never equals "true".
    public static func boolean(_ text: String, numbers: Bool = false) -> Bool? {
        let word = text.trimmingCharacters(in: .whitespaces)
        guard Grammar.isPacemakerBoolean(word) else { return nil }
        if !numbers && ["1", "0", "y", "n"].contains(word.lowercased()) { return nil }
        return Grammar.pacemakerIsTrue(word)
    }

    /// Roles: pcs 0.9/0.10 and Pacemaker 1.1 say Master/Slave, 0.11+ and Pacemaker 2.1
    /// Promoted/Unpromoted; role words in pcs commands are case-insensitive.
    public static func role(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        switch text.lowercased() {
        case "master", "promoted": return "Promoted"
        case "slave", "unpromoted": return "Unpromoted"
        case "started": return "Started"
        case "stopped": return "Stopped"
        default: return text
        }
    }

    /// Scores: `+INFINITY` = `INFINITY` = `infinity`.
    public static func score(_ text: String) -> String {
        let value = text.trimmingCharacters(in: .whitespaces)
        switch value.lowercased() {
        case "infinity", "+infinity", "inf", "+inf": return "INFINITY"
        case "-infinity", "-inf": return "-INFINITY"
        default: return value.hasPrefix("+") ? String(value.dropFirst()) : value
        }
    }

    /// Names whose values are durations.
    public static func isDuration(_ name: String) -> Bool {
        name.hasSuffix("timeout") || name.hasSuffix("interval") ||
            ["dc-deadtime", "shutdown-escalation", "priority-fencing-delay", "pcmk_delay_max", "pcmk_delay_base"].contains(name)
    }

    /// Names whose values are booleans (so that 1/0 count as true/false there).
    static let booleanNames: Set<String> = [
        "notify", "promotable", "globally-unique", "interleave", "ordered", "symmetrical",
        "is-managed", "maintenance", "maintenance-mode", "stonith-enabled", "symmetric-cluster",
        "start-failure-is-fatal", "enable-startup-probes", "concurrent-fencing", "startup-fencing",
        "stop-orphan-resources", "stop-orphan-actions", "restart_on_promote", "check_wal_receiver",
    ]

    /// One spelling per meaning, for comparisons.
    public static func canonical(_ name: String, _ value: String) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if ["infinity", "+infinity", "-infinity"].contains(trimmed.lowercased()) { return score(trimmed) }
        if isDuration(name), let ms = milliseconds(trimmed) { return "\(ms)ms" }
        if let flag = boolean(trimmed, numbers: booleanNames.contains(name)) { return flag ? "true" : "false" }
        return trimmed
    }

    public static func same(_ name: String, _ a: String, _ b: String) -> Bool {
        a == b || canonical(name, a) == canonical(name, b)
    }

    /// pcs 0.9 spelled the promotable clone's limits master-max/master-node-max.
    public static func cloneMetaName(_ name: String) -> String {
        switch name {
        case "master-max": return "promoted-max"
        case "master-node-max": return "promoted-node-max"
        default: return name
        }
    }

    /// Meta attributes people set to operate a cluster (`pcs resource disable`, `unmanage`):
    /// not configuration drift, and kept when pgha rebuilds the resource.
    public static let operationalMeta: Set<String> = ["target-role", "is-managed", "maintenance"]
}

