import Foundation
import PghaRender
import PghaSpec

/// What a command was given: the spec, the inventory, a templates folder, a pcs dialect.
public struct SessionInputs: Sendable, Equatable {
    public var spec: String
    public var inventory: String?
    public var templates: String?
    public var pcsDialect: String?

    public init(spec: String, inventory: String? = nil, templates: String? = nil, pcsDialect: String? = nil) {
        self.spec = spec
        self.inventory = inventory
        self.templates = templates
        self.pcsDialect = pcsDialect
    }
}

/// A run stopped before or while touching hosts: the lines say what, where and how to fix it.
/// Input problems are DiagnosticsError (file:line:column); this is everything else.
public struct SessionFailure: Error, CustomStringConvertible, Sendable {
    public var lines: [String]
    public init(_ lines: [String]) { self.lines = lines }
    public var description: String { lines.joined(separator: "\n") }
}

/// The spec and inventory loaded and cross-checked, the templates in effect and the pcs dialect.
public struct LoadedSpec: Sendable {
    public var inputs: SessionInputs
    public var spec: ClusterSpec
    public var inventory: Inventory?
    /// The dialect to generate for: the one named (--pcs-dialect, spec, inventory), or, for live
    /// commands, the one detected on the hosts (LiveSession sets it).
    public var dialect: ClusterSpec.PcsDialect
    /// What --pcs-dialect, the spec or the inventory named, if anything.
    public var declaredDialect: ClusterSpec.PcsDialect?
    public var templates: TemplateSet
    /// Warnings found while loading (errors throw).
    public var warnings: [Diagnostic]
    /// Topology pgpool: the pgpool.conf names; the spec's, else 4.2+ offline (a live plan or
    /// apply detects it on the hosts: LiveSession sets it).
    public var pgpoolDialect: PgpoolSpec.Dialect = .v4_2
    /// Topology pgpool: each node's SSH host keys as pgha pinned them (LiveSession reads them from
    /// the inventory's known_hosts), for pgpool's scripts; empty offline.
    public var hostKeys: [String: [String]] = [:]

    /// Throws DiagnosticsError with every problem found. `requireDialect: false` (plan, apply):
    /// the hosts' pcs decides when nothing names one.
    public static func load(_ inputs: SessionInputs, requireInventory: Bool = false, requireDialect: Bool = true) throws -> LoadedSpec {
        var diagnostics: [Diagnostic] = []
        let specResult = SpecLoader.load(path: inputs.spec)
        diagnostics += specResult.diagnostics
        var inventory: Inventory?
        if let path = inputs.inventory {
            let result = InventoryLoader.load(path: path)
            diagnostics += result.diagnostics
            inventory = result.value
            if let spec = specResult.value, let inventory {
                diagnostics += InventoryLoader.check(inventory, against: spec, inventoryReader: path)
            }
        } else if requireInventory {
            diagnostics.append(Diagnostic(file: inputs.spec, line: 0, column: 0,
                                          message: "this command needs an inventory: add -i inventory/<name>.yaml"))
        }
        var templates = TemplateSet.builtin
        do { templates = try TemplateSet.overriding(with: inputs.templates) } catch let error as DiagnosticsError {
            diagnostics += error.diagnostics
        }
        var dialect: ClusterSpec.PcsDialect?
        if let name = inputs.pcsDialect {
            dialect = ClusterSpec.PcsDialect(rawValue: name)
            if dialect == nil {
                diagnostics.append(Diagnostic(file: "--pcs-dialect", line: 0, column: 0,
                    message: "'\(name)' is not one of \(ClusterSpec.PcsDialect.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
        } else if let spec = specResult.value {
            dialect = spec.dialect(with: inventory)
            if dialect == nil && requireDialect && spec.topology == .pacemaker {
                diagnostics.append(Diagnostic(file: inputs.spec, line: 0, column: 0,
                    message: "pacemaker.pcs_dialect is not set here nor in the inventory; name one of \(ClusterSpec.PcsDialect.allCases.map(\.rawValue).joined(separator: ", ")) (a live plan or apply detects it on the hosts)"))
            }
        }
        guard !diagnostics.hasErrors, let spec = specResult.value, dialect != nil || !requireDialect || spec.topology == .pgpool else {
            throw DiagnosticsError(diagnostics)
        }
        var loaded = LoadedSpec(inputs: inputs, spec: spec, inventory: inventory, dialect: dialect ?? .v0_11, declaredDialect: dialect,
                                templates: templates, warnings: diagnostics)
        if let declared = spec.pgpool?.dialect { loaded.pgpoolDialect = declared }
        return loaded
    }

    /// For the commands that speak Pacemaker only so far (status, switchover, drill): a spec of
    /// topology pgpool is refused, before any host is contacted, with what to use instead.
    public func requirePacemaker(_ command: String) throws {
        guard spec.topology == .pgpool else { return }
        throw SessionFailure(["pgha \(command): error: \(inputs.spec) has topology pgpool, and `pgha \(command)` speaks Pacemaker only so far; `pgha status` shows pgpool-II's view, and a switchover is pcp_promote_node -s -n ID on a node (as the PostgreSQL user, with ~/.pcppass written by pgha)"])
    }

    /// Every file of the cluster; with `secrets`, the secret references resolved (else placeholders).
    public func render(secrets: Bool) throws -> [RenderedFile] {
        let resolver: ((SecretRef) throws -> String)? = secrets ? { try $0.resolve() } : nil
        return try Renderer(spec: spec, dialect: dialect, templates: templates, secrets: resolver,
                            pgpoolDialect: pgpoolDialect, hostKeys: hostKeys).renderAll()
    }
}
