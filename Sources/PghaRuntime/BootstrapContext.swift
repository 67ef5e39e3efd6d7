import Foundation
import PghaRender
import PghaSpec

/// Everything the bootstrap steps need besides facts: the spec, the files rendered for this
/// run (with secrets), the secrets themselves, and what the user allowed for this run.
public struct BootstrapContext: Sendable {
    public var spec: ClusterSpec
    public var dialect: ClusterSpec.PcsDialect
    public var files: [RenderedFile]
    public var replicationPassword: String
    public var haclusterPassword: String
    /// Nodes whose data directory the user allowed to be rebuilt for this run (--rebuild NODE).
    public var rebuild: Set<String>
    /// Names what this run leaves behind (a rebuilt node's old data directory).
    public var runID: String
    /// Topology pgpool: each of `pgpool.users` with its password, resolved.
    public var pgpoolUsers: [(name: String, password: String)] = []

    public init(spec: ClusterSpec, dialect: ClusterSpec.PcsDialect, files: [RenderedFile],
                replicationPassword: String, haclusterPassword: String, rebuild: Set<String> = [],
                runID: String = BootstrapContext.newRunID()) {
        self.spec = spec
        self.dialect = dialect
        self.files = files
        self.replicationPassword = replicationPassword
        self.haclusterPassword = haclusterPassword
        self.rebuild = rebuild
        self.runID = runID
    }

    public static func newRunID() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date())
    }

    var pg: ClusterSpec.PostgreSQL { spec.postgresql }

    /// The file rendered from `template` for `node` (nil: a cluster-wide file). Paths are the
    /// Renderer's: steps find files by the template they come from.
    func file(_ node: String?, template: String) throws -> RenderedFile {
        guard let file = files.first(where: { $0.node == node && $0.template == template }) else {
            throw CatalogError("\(node ?? "cluster"): no file was rendered from \(template)")
        }
        return file
    }
}
