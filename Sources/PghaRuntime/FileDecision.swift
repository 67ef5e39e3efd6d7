import Foundation
import PghaRender

/// What a step would do on a host.
/// What a step does to a host: the one vocabulary of plans, apply reports and the cluster
/// configuration's differences, for files, services and the CIB alike. Its raw value is the
/// word JSON output carries; `symbol` is what plan text shows.
public enum Action: String, Codable, CaseIterable, Sendable {
    case create, update, delete
    /// Replaces data (a --rebuild): shown in red, applied only when the user named the node.
    case destructive

    public var symbol: String {
        switch self {
        case .create: return "+"
        case .update: return "~"
        case .delete: return "-"
        case .destructive: return "!"
        }
    }
}

/// A step's decision: what it would do, in one line, with a diff for files.
public struct Change: Equatable, Sendable {
    public typealias Action = PghaRuntime.Action
    public var action: Action
    public var summary: String
    /// A unified diff for files; "(sensitive)" stands in for secrets.
    public var diff: String?

    public init(_ action: Action, _ summary: String, diff: String? = nil) {
        self.action = action
        self.summary = summary
        self.diff = diff
    }
}

/// Decides whether a rendered file must be written, from the file as the host has it.
/// Pure: the same function serves plan, apply, and the check after apply.
public enum FileDecision {
    /// The content pgha would leave on the host: the whole file, or the host's file with the
    /// managed block replaced; lines the pgsql agent added to postgresql.conf are kept.
    public static func desiredContent(_ file: RenderedFile, existing: FileFact) -> String {
        switch file.kind {
        case .managedBlock:
            return ManagedBlock.merge(existing: existing.content ?? "", block: file.content)
        case .whole:
            guard file.path.hasSuffix("/postgresql.conf"), let current = existing.content else { return file.content }
            let kept = agentOwnedLines(current)
            return kept.isEmpty ? file.content : file.content + kept.joined(separator: "\n") + "\n"
        }
    }

    /// The pgsql agent appends `include '<tmpdir>/rep_mode.conf'` (sync mode) and, on
    /// PostgreSQL ≥ 12, an include of its recovery settings. They are its state, not drift.
    public static func agentOwnedLines(_ content: String) -> [String] {
        splitLines(content).filter { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("include '") && (trimmed.contains("rep_mode.conf") || trimmed.contains("recovery.conf"))
        }
    }

    public static func sha256Hex(_ text: String) -> String { SHA256.hex(Data(text.utf8)) }

    public static func decide(_ file: RenderedFile, existing: FileFact) -> Change? {
        let mode = String(file.mode, radix: 8)
        let what = file.kind == .managedBlock ? "managed block in \(file.path)" : file.path
        guard existing.exists else {
            let diff = file.sensitive ? "(sensitive)" : unifiedDiff(old: "", new: file.content, oldName: "/dev/null", newName: file.path)
            return Change(.create, "create \(what) (\(mode) \(file.owner):\(file.group))", diff: diff)
        }
        var reasons: [String] = []
        var diff: String?
        if file.sensitive {
            if existing.digest != sha256Hex(file.content) {
                reasons.append("content differs")
                diff = "(sensitive)"
            }
        } else {
            let current = existing.content ?? ""
            let desired = desiredContent(file, existing: existing)
            if desired != current {
                reasons.append(file.kind == .managedBlock ? "block differs" : "content differs")
                diff = unifiedDiff(old: current, new: desired, oldName: file.path, newName: file.path)
            }
        }
        // A managed block lives in someone else's file: its mode and owner are theirs.
        if file.kind == .whole {
            if existing.mode != mode { reasons.append("mode \(existing.mode ?? "?") → \(mode)") }
            if existing.owner != file.owner || existing.group != file.group {
                reasons.append("owner \(existing.owner ?? "?"):\(existing.group ?? "?") → \(file.owner):\(file.group)")
            }
        }
        guard !reasons.isEmpty else { return nil }
        return Change(.update, "update \(what): \(reasons.joined(separator: ", "))", diff: diff)
    }
}
