import Foundation
import PghaSpec

/// One file as it will be installed: on a node (`node` set) or cluster-wide (`node` nil).
public struct RenderedFile: Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// The whole file is pgha's.
        case whole
        /// Only a marked block inside the host's file is pgha's; the rest is left alone.
        case managedBlock
    }
    public var node: String?
    /// Absolute path on the node, or a name under `cluster/`.
    public var path: String
    public var content: String
    public var mode: UInt32
    public var owner: String
    public var group: String
    public var kind: Kind
    public var sensitive: Bool
    public var template: String

    public init(node: String?, path: String, content: String, mode: UInt32, owner: String, group: String,
                kind: Kind, sensitive: Bool, template: String) {
        self.node = node
        self.path = path
        self.content = content
        self.mode = mode
        self.owner = owner
        self.group = group
        self.kind = kind
        self.sensitive = sensitive
        self.template = template
    }

    /// Where `pgha render --out DIR` writes it: DIR/<node>/<path> or DIR/cluster/<name>.
    public var outputPath: String {
        node.map { "\($0)\(path)" } ?? "cluster/\(path)"
    }
}

/// The templates in effect: the built-in set (a copy of templates/), overridden by name
/// from a user's folder (`--templates DIR`).
public struct TemplateSet: Sendable {
    public var templates: [String: StrictTemplate]

    public static var builtin: TemplateSet {
        TemplateSet(templates: Dictionary(uniqueKeysWithValues: BuiltinTemplates.all.map {
            ($0.key, StrictTemplate(name: "templates/\($0.key)", text: $0.value))
        }))
    }

    /// Every file in `directory` named like a built-in template replaces it; any other file
    /// is an error, so a misspelt override does not silently do nothing.
    public static func overriding(with directory: String?) throws -> TemplateSet {
        var set = builtin
        guard let directory else { return set }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DiagnosticsError([Diagnostic(file: directory, line: 0, column: 0, message: "--templates: not a directory")])
        }
        var problems: [Diagnostic] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory))?.sorted() ?? [] {
            let path = (directory as NSString).appendingPathComponent(name)
            guard set.templates[name] != nil else {
                let hint = closestMatch(name, in: Array(set.templates.keys)).map { "; did you mean '\($0)'?" }
                    ?? "; templates are: \(set.templates.keys.sorted().joined(separator: ", "))"
                problems.append(Diagnostic(file: path, line: 0, column: 0, message: "not a pgha template name\(hint)"))
                continue
            }
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                problems.append(Diagnostic(file: path, line: 0, column: 0, message: "cannot be read as UTF-8 text"))
                continue
            }
            set.templates[name] = StrictTemplate(name: path, text: text)
        }
        if !problems.isEmpty { throw DiagnosticsError(problems) }
        return set
    }
}

/// Spec → files. Pure: no host is touched, secrets come from the resolver given.
public struct Renderer {
    public let spec: ClusterSpec
    public let dialect: ClusterSpec.PcsDialect
    public let templates: TemplateSet
    /// Secret values; nil renders `.pgpass` with a placeholder (`--redact-secrets`).
    public let secrets: ((SecretRef) throws -> String)?
    /// Topology pgpool: the pgpool.conf names to write.
    public let pgpoolDialect: PgpoolSpec.Dialect
    /// Topology pgpool: each node's pinned SSH host keys, for the known_hosts of pgpool's scripts.
    public let hostKeys: [String: [String]]

    public init(spec: ClusterSpec, dialect: ClusterSpec.PcsDialect, templates: TemplateSet = .builtin,
                secrets: ((SecretRef) throws -> String)?, pgpoolDialect: PgpoolSpec.Dialect = .v4_2,
                hostKeys: [String: [String]] = [:]) {
        self.spec = spec
        self.dialect = dialect
        self.templates = templates
        self.secrets = secrets
        self.pgpoolDialect = pgpoolDialect
        self.hostKeys = hostKeys
    }

    public static let redacted = "(sensitive)"

    public func renderAll() throws -> [RenderedFile] {
        var files: [RenderedFile] = []
        var problems: [Diagnostic] = []
        func attempt(_ body: () throws -> RenderedFile?) {
            do { if let file = try body() { files.append(file) } }
            catch let error as DiagnosticsError { problems += error.diagnostics }
            catch { problems.append(Diagnostic(file: spec.file, line: 0, column: 0, message: "\(error)")) }
        }
        let pg = spec.postgresql
        let password: String
        do { password = try secrets.map { try $0(spec.replication.password) } ?? Self.redacted }
        catch { throw DiagnosticsError([Diagnostic(file: spec.file, line: 0, column: 0, message: "replication.password: \(error)")]) }

        var pgpassExtra: [String] = []
        if let pgpool = spec.pgpool, let user = pgpool.user(named: pgpool.healthCheck.user) {
            let secret: String
            do { secret = try secrets.map { try $0(user.password) } ?? Self.redacted }
            catch { throw DiagnosticsError([Diagnostic(file: spec.file, line: 0, column: 0, message: "pgpool.users \(user.name): \(error)")]) }
            pgpassExtra = ["*:\(pgpool.port):*:\(user.name):\(RenderContext.pgpassEscape(secret))"]
        }
        for node in spec.nodes {
            let context = RenderContext(spec: spec, dialect: dialect).forNode(node, replicationPassword: password, pgpassExtra: pgpassExtra)
            if spec.os.manageHostsFile {
                attempt { try file(node, "hosts.stencil", "/etc/hosts", context, mode: 0o644, owner: "root", group: "root", kind: .managedBlock) }
            }
            attempt { try file(node, "postgresql.conf.stencil", "\(pg.dataDir)/postgresql.conf", context, mode: 0o600, owner: pg.osUser.name, group: pg.osUser.group) }
            attempt { try file(node, "pg_hba.conf.stencil", "\(pg.dataDir)/pg_hba.conf", context, mode: 0o600, owner: pg.osUser.name, group: pg.osUser.group) }
            attempt { try file(node, "pgpass.stencil", "\(pg.osUser.home)/.pgpass", context, mode: 0o600, owner: pg.osUser.name, group: pg.osUser.group, sensitive: true) }
            attempt { try file(node, "bash_profile.stencil", "\(pg.osUser.home)/.bash_profile", context, mode: 0o644, owner: pg.osUser.name, group: pg.osUser.group, kind: .managedBlock) }
        }
        switch (spec.topology, spec.pgpool) {
        case (.pgpool, let pgpool?):
            let render = PgpoolRender(spec: spec, pgpool: pgpool, dialect: pgpoolDialect, secrets: secrets, hostKeys: hostKeys)
            let common = RenderContext(spec: spec, dialect: dialect).common
            let context = try render.context(common: common, replicationUser: spec.replication.user)
            for index in spec.nodes.indices {
                do {
                    files += try render.files(for: index, context: context) { node, template, path, context, mode, owner, group, kind, sensitive in
                        try file(node, template, path, context, mode: mode, owner: owner, group: group, kind: kind, sensitive: sensitive)
                    }
                } catch let error as DiagnosticsError { problems += error.diagnostics }
            }
        default:
            let context = RenderContext(spec: spec, dialect: dialect).cluster()
            attempt { try file(nil, "pcs-setup.sh.stencil", "pcs-setup.sh", context, mode: 0o700, owner: "root", group: "root") }
            attempt { try file(nil, "pcs-resources.sh.stencil", "pcs-resources.sh", context, mode: 0o700, owner: "root", group: "root") }
        }
        if !problems.isEmpty { throw DiagnosticsError(problems.sortedByPosition().uniqued()) }
        return files
    }

    func file(_ node: ClusterSpec.Node?, _ template: String, _ path: String, _ context: [String: Any], mode: UInt32,
              owner: String, group: String, kind: RenderedFile.Kind = .whole, sensitive: Bool = false) throws -> RenderedFile? {
        guard let stencil = templates.templates[template] else {
            throw DiagnosticsError([Diagnostic(file: template, line: 0, column: 0, message: "template is missing")])
        }
        var text = try stencil.render(context)
        if !text.hasSuffix("\n") { text += "\n" }
        return RenderedFile(node: node?.name, path: path, content: text, mode: mode, owner: owner, group: group,
                            kind: kind, sensitive: sensitive, template: template)
    }
}

extension Array where Element == Diagnostic {
    /// The same template problem shows up once per node; say it once.
    func uniqued() -> [Diagnostic] {
        var seen = Set<String>()
        return filter { seen.insert($0.description).inserted }
    }
}
