/// Managed blocks inside files pgha does not own (/etc/hosts, ~/.bash_profile): the lines
/// between the BEGIN/END markers are pgha's, every other line stays as the host has it.
public enum ManagedBlock {
    public static let begin = "# BEGIN pgha managed block"
    public static let end = "# END pgha managed block"

    /// The block currently in `existing`, if any (markers included).
    public static func extract(from existing: String) -> String? {
        let lines = existing.components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { $0.hasPrefix(begin) }),
              let stop = lines[start...].firstIndex(where: { $0.hasPrefix(end) }) else { return nil }
        return lines[start...stop].joined(separator: "\n") + "\n"
    }

    /// `existing` with its block replaced by `block`, or `block` appended when there is none.
    public static func merge(existing: String, block: String) -> String {
        var lines = existing.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        let blockLines = block.components(separatedBy: "\n").filter { !$0.isEmpty || false }
        if let start = lines.firstIndex(where: { $0.hasPrefix(begin) }),
           let stop = lines[start...].firstIndex(where: { $0.hasPrefix(end) }) {
            lines.replaceSubrange(start...stop, with: blockLines)
        } else {
            lines += blockLines
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
