import PghaRender
import PghaShell
import PghaSpec

/// Writes the bash script (run as root on one node) that repairs the cluster configuration
/// with one `pcs cluster cib-push new.xml diff-against=live.xml`.
///
/// Properties and resource defaults that differ are set on new.xml with pgha's own pcs
/// commands. Any other difference rebuilds pgha's resources and constraints: the same pcs
/// commands as the first configuration run against scratch.xml, a copy of the live CIB without
/// resources or constraints, and every object built there replaces the live object with its
/// path (or is added). pcs gives the same ids to the same commands, so an unchanged object is
/// replaced by an identical one and the pushed diff holds exactly the drift: Pacemaker restarts
/// nothing that did not change. Replacing in place, rather than deleting and re-creating,
/// also keeps other people's constraints on pgha's resources valid (a `pcs resource ban` makes a
/// cli-ban location that points at the group; the CIB schema refuses a dangling reference).
public struct ClusterConfigRepair {
    public let spec: ClusterSpec
    public let dialect: ClusterSpec.PcsDialect

    public init(spec: ClusterSpec, dialect: ClusterSpec.PcsDialect) {
        self.spec = spec
        self.dialect = dialect
    }

    /// On a node: read the live CIB with `pcs cluster cib` and push once. Offline (tests,
    /// scripts/make-cib-fixtures): read a CIB file and write the repaired one, pushing nothing.
    public enum Mode: Sendable {
        case live
        case offline(input: String, output: String)
    }

    /// The repair script for `live`; nil when nothing differs.
    public func script(live: ClusterConfig, mode: Mode = .live) throws -> String? {
        let desired = try ClusterConfig.desired(spec: spec, dialect: dialect)
        let differences = ClusterConfig.compare(desired: desired, live: live)
        guard !differences.isEmpty else { return nil }
        let commands = PcsCommands(spec: spec, dialect: dialect).resourceCommands()

        // No value of the spec or the CIB in a comment (a newline in one would start a command):
        // `pgha plan` shows the differences.
        var lines: [Shell] = [
            "#!/bin/bash",
            "# pgha: repair the cluster configuration, pushed once.",
            "set -euo pipefail",
            "workdir=$(mktemp -d /tmp/pgha-cib-repair.XXXXXX)",
            "trap 'rm -rf \"$workdir\"' EXIT",
        ]
        let quiet = Self.changesOnlyParametersReadEachCall(desired: desired, live: live, resource: spec.pacemaker.pgsqlResource)
        switch mode {
        case .live:
            if quiet {
                // Pacemaker restarts a resource whose parameters change (the pgsql agent has no
                // reload), the primary included. These parameters the agent reads at each call:
                // pushed under maintenance-mode, the resource's history refreshed (its probes
                // record the new parameters), so nothing restarts when maintenance ends.
                lines += [
                    "crm_attribute --type crm_config --name maintenance-mode --update true",
                    "trap 'crm_attribute --type crm_config --name maintenance-mode --delete >/dev/null 2>&1; rm -rf \"$workdir\"' EXIT",
                ]
            }
            lines += ["cd \"$workdir\"", "pcs cluster cib live.xml"]
        case .offline(let input, _):
            lines += ["cp \(input) \"$workdir/live.xml\"", "cd \"$workdir\""]
        }
        lines.append("cp live.xml new.xml")

        // Properties and defaults: only those that differ, set in place.
        for command in commands {
            let words = pcsWords(command)
            if words.starts(with: ["property", "set"]) || words.starts(with: ["resource", "defaults"]) {
                let pairs = words.drop { !$0.contains("=") }
                let list = words[0] == "property" ? desired.properties : desired.resourceDefaults
                let liveList = words[0] == "property" ? live.properties : live.resourceDefaults
                let differs = pairs.contains { pair in
                    let name = String(pair.prefix { $0 != "=" })
                    guard let wanted = list.first(where: { $0.name == name }) else { return false }
                    guard let have = liveList.first(where: { $0.name == name }) else { return true }
                    return !CIBValue.same(name, have.value, wanted.value)
                }
                if differs { lines.append(retarget(command, to: "new.xml")) }
            }
        }

        if differences.contains(where: \.needsRebuild) {
            lines += [
                "# Rebuild pgha's resources and constraints with the commands of the first configuration",
                "# in a copy without resources or constraints (constraints first: they point at resources).",
                "cp live.xml scratch.xml",
                "CIB_file=scratch.xml cibadmin --replace --scope constraints --xml-text '<constraints/>'",
                "CIB_file=scratch.xml cibadmin --replace --scope resources --xml-text '<resources/>'",
            ]
            for command in commands {
                let words = pcsWords(command)
                guard !words.isEmpty, !words.starts(with: ["property", "set"]), !words.starts(with: ["resource", "defaults"]) else { continue }
                lines.append(retarget(command, to: "scratch.xml"))
            }
            // `pcs resource disable/unmanage` on pgha's resources is the operator's, not drift: keep it.
            let ids = desired.allResourceIDs
            var kept: [Shell] = []
            for resource in live.resources {
                var elements: [(id: String, meta: [ClusterConfig.Attribute], stonith: Bool)] = [(resource.id, resource.meta, false)]
                switch resource {
                case .primitive(let p): elements = [(p.id, p.meta, p.agent.isStonith)]
                case .group(let g): elements += g.members.map { ($0.id, $0.meta, false) }
                case .clone(let c):
                    switch c.child {
                    case .primitive(let p): elements.append((p.id, p.meta, false))
                    case .group(let g): elements += [(g.id, g.meta, false)] + g.members.map { ($0.id, $0.meta, false) }
                    }
                }
                for element in elements where ids.contains(element.id) {
                    let pairs = element.meta.filter { CIBValue.operationalMeta.contains($0.name) }.map { "\($0.name)=\($0.value)" }
                    guard !pairs.isEmpty else { continue }
                    let noun = element.stonith && dialect >= .v0_11 ? "stonith" : "resource"
                    kept.append(ShellCommand(["pcs", "-f", "scratch.xml", noun, "meta", element.id] + pairs).shell)
                }
            }
            if !kept.isEmpty {
                lines.append("# Kept from the live CIB (set by an operator, not drift):")
                lines += kept
            }

            let owned = live.ownedPaths(desired: desired)
            lines += [
                Self.flush,
                "CIB_file=scratch.xml cibadmin --query --node-path \\",
                "    --xpath '/cib/configuration/resources/*|/cib/configuration/constraints/*' > rebuilt.paths",
            ]
            if !(owned.constraints + owned.resources).isEmpty {
                lines += ["# pgha's live objects the rebuild does not produce again (constraints before resources)."]
                lines.append("for path in \\")
                lines += (owned.constraints + owned.resources).map { "    \($0) \\" }
                lines += [
                    "; do",
                    "  grep -qxF \"$path\" rebuilt.paths || CIB_file=new.xml cibadmin --delete --xpath \"$path\"",
                    "done",
                ]
            }
            lines += [
                "# Each rebuilt object replaces the live one with its id, where it stands (identical ones make",
                "# no diff; `--replace --xpath` would move it to the end), or is added.",
                "while IFS= read -r path; do",
                "  scope=${path#/cib/configuration/}; scope=${scope%%/*}",
                "  xml=$(CIB_file=scratch.xml cibadmin --query --xpath \"$path\")",
                "  if CIB_file=new.xml cibadmin --query --xpath \"$path\" >/dev/null 2>&1; then",
                "    CIB_file=new.xml cibadmin --replace --scope \"$scope\" --xml-text \"$xml\"",
                "  else",
                "    CIB_file=new.xml cibadmin --create --scope \"$scope\" --xml-text \"$xml\"",
                "  fi",
                "done < rebuilt.paths",
            ]
        }

        switch mode {
        case .live:
            lines.append("pcs cluster cib-push new.xml diff-against=live.xml")
            if quiet {
                lines += [
                    "\(Command("crm_resource", "--refresh", "--resource", spec.pacemaker.pgsqlClone)) >/dev/null",
                    "crm_resource --wait --timeout=120",
                ]
            }
        case .offline(_, let output):
            lines += [Self.flush, "cp new.xml \(output)"]
        }
        return Shell.lines(lines).text + "\n"
    }

    /// Run through PcsBatch (one pcs process for every `pcs -f`), the queued commands must have
    /// written scratch.xml and new.xml before cibadmin reads them; run as it is, nothing is queued.
    static let flush: Shell = "if declare -F pgha_pcs_flush >/dev/null; then pgha_pcs_flush; fi"

    /// The pgsql agent's parameters it reads at each call (monitor, promote), none at start:
    /// a change to them needs no restart (resources/heartbeat/pgsql: node_list in every
    /// monitor of the primary, restart_on_promote in promote, xlog_check_count in a standby's
    /// monitor while no primary runs).
    public static let readEachCall: Set<String> = ["node_list", "restart_on_promote", "xlog_check_count"]

    /// Whether the pgsql primitive's parameters differ, and only in readEachCall ones, while
    /// the cluster is not in maintenance already (the operator's, left alone).
    public static func changesOnlyParametersReadEachCall(desired: ClusterConfig, live: ClusterConfig, resource: String) -> Bool {
        guard let want = desired.allPrimitives.first(where: { $0.primitive.id == resource })?.primitive,
              let have = live.allPrimitives.first(where: { $0.primitive.id == resource })?.primitive,
              !live.properties.contains(where: { $0.name == "maintenance-mode" && CIBValue.same($0.name, $0.value, "true") }) else { return false }
        let names = Set(want.instance.map(\.name) + have.instance.map(\.name))
        let changed = names.filter { name in
            let a = want.instance.first { $0.name == name }?.value, b = have.instance.first { $0.name == name }?.value
            guard let a, let b else { return true }
            return !CIBValue.same(name, a, b)
        }
        return !changed.isEmpty && changed.isSubset(of: readEachCall)
    }

    /// The words after `pcs -f FILE`, or [] for any other command.
    func pcsWords(_ command: ShellCommand) -> [String] {
        let words = command.arguments
        guard words.count > 3, words[0] == "pcs", words[1] == "-f" else { return [] }
        return Array(words.dropFirst(3))
    }

    func retarget(_ command: ShellCommand, to file: String) -> Shell {
        var command = command
        command.groups[0][2] = file
        return command.shell
    }
}
