/// A unified diff (`---`/`+++`, `@@` hunks, 3 lines of context) of two texts, line by line.
/// Config files are small, so a plain LCS table is fast enough and easy to trust.
public func unifiedDiff(old: String, new: String, oldName: String, newName: String, context: Int = 3) -> String {
    let a = splitLines(old), b = splitLines(new)
    if a == b { return "" }
    // lcs[i][j] = length of the LCS of a[i...] and b[j...]
    var lcs = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in stride(from: a.count - 1, through: 0, by: -1) {
        for j in stride(from: b.count - 1, through: 0, by: -1) {
            lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
        }
    }
    enum Edit { case same(String), removed(String), added(String) }
    var edits: [Edit] = []
    var i = 0, j = 0
    while i < a.count || j < b.count {
        if i < a.count, j < b.count, a[i] == b[j] { edits.append(.same(a[i])); i += 1; j += 1 }
        else if i < a.count, j == b.count || lcs[i + 1][j] >= lcs[i][j + 1] { edits.append(.removed(a[i])); i += 1 }
        else { edits.append(.added(b[j])); j += 1 }
    }
    // Group changes with their context into hunks.
    var out = "--- \(oldName)\n+++ \(newName)\n"
    let changed = edits.indices.filter { if case .same = edits[$0] { return false } else { return true } }
    var hunkStart = 0
    while hunkStart < changed.count {
        var hunkEnd = hunkStart
        while hunkEnd + 1 < changed.count, changed[hunkEnd + 1] - changed[hunkEnd] <= 2 * context { hunkEnd += 1 }
        let from = max(0, changed[hunkStart] - context), to = min(edits.count - 1, changed[hunkEnd] + context)
        var oldLine = 1, newLine = 1
        for edit in edits[..<from] {
            switch edit { case .same: oldLine += 1; newLine += 1; case .removed: oldLine += 1; case .added: newLine += 1 }
        }
        var oldCount = 0, newCount = 0, body = ""
        for edit in edits[from...to] {
            switch edit {
            case .same(let line): body += " \(line)\n"; oldCount += 1; newCount += 1
            case .removed(let line): body += "-\(line)\n"; oldCount += 1
            case .added(let line): body += "+\(line)\n"; newCount += 1
            }
        }
        out += "@@ -\(oldCount == 0 ? oldLine - 1 : oldLine),\(oldCount) +\(newCount == 0 ? newLine - 1 : newLine),\(newCount) @@\n" + body
        hunkStart = hunkEnd + 1
    }
    return out
}

func splitLines(_ text: String) -> [String] {
    var lines = text.components(separatedBy: "\n")
    if lines.last == "" { lines.removeLast() }
    return lines
}
