import Foundation
import PghaRuntime
import PghaSpec

/// `pgha plan --out FILE`: the plan and the exact inputs it was made from, so `pgha apply FILE`
/// applies that plan or refuses, naming what moved. No secret is in it (diffs of secret files
/// read "(sensitive)").
public struct SavedPlan: Codable, Sendable {
    public struct Input: Codable, Equatable, Sendable {
        public var path: String
        public var sha256: String
    }
    /// 2: actions are words or null (cannot be applied); 1 had an "error" word.
    public var pghaSavedPlan = 2
    public var created: String
    public var spec: Input
    public var inventory: Input
    public var templates: Input?
    public var pcsDialect: String?
    public var rebuild: [String]
    /// Names what a --rebuild leaves behind; apply reuses it so the plan reads the same.
    public var runId: String
    public var plan: LivePlan

    /// The plan and the exact inputs it was made from.
    public init(plan: LivePlan, inputs: SessionInputs, rebuild: [String], runID: String, created: Date = Date()) throws {
        self.created = ISO8601DateFormatter().string(from: created)
        self.spec = try Self.input(inputs.spec)
        self.inventory = try Self.input(inputs.inventory ?? "")
        self.templates = try inputs.templates.map(Self.input)
        self.pcsDialect = inputs.pcsDialect
        self.rebuild = rebuild
        self.runId = runID
        self.plan = plan
    }

    static func input(_ path: String) throws -> Input {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        return Input(path: absolute, sha256: try digest(of: absolute))
    }

    /// sha256 of a file, or of every file of a folder (names and contents).
    public static func digest(of path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SessionFailure(["\(path) no longer exists"])
        }
        if !isDirectory.boolValue { return SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: path))) }
        var all = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: path).sorted() {
            all += Data(name.utf8) + (try Data(contentsOf: URL(fileURLWithPath: path).appendingPathComponent(name)))
        }
        return SHA256.hex(all)
    }

    /// A saved plan, or nil when the file is not JSON (then it is a spec).
    public static func read(_ path: String) throws -> SavedPlan? {
        guard let data = FileManager.default.contents(atPath: path), data.first == UInt8(ascii: "{") else { return nil }
        guard let saved = try? JSONDecoder.pgha.decode(SavedPlan.self, from: data), saved.pghaSavedPlan == 2 else {
            throw DiagnosticsError([Diagnostic(file: path, line: 0, column: 0, message: "this is not a plan saved by `pgha plan --out` of this version; make a new plan")])
        }
        return saved
    }

    /// Writes it (0600: a plan names hosts and paths; it holds no secret).
    public func write(to path: String) throws {
        let data = try JSONEncoder.pgha.encode(self)
        guard FileManager.default.createFile(atPath: path + ".pgha-tmp", contents: data, attributes: [.posixPermissions: 0o600]),
              rename(path + ".pgha-tmp", path) == 0 else {
            throw SessionFailure(["cannot write \(path): \(String(cString: strerror(errno)))"])
        }
    }

    /// The inputs it was made from, refused when any of them changed since. A saved plan
    /// carries its spec, inventory, templates and flags: none may be given with it.
    public func inputs(given: SessionInputs, rebuild: [String], planPath: String) throws -> SessionInputs {
        if given.inventory != nil || given.templates != nil || given.pcsDialect != nil || !rebuild.isEmpty {
            throw DiagnosticsError([Diagnostic(file: planPath, line: 0, column: 0,
                                               message: "a saved plan carries its spec, inventory, templates and flags; apply it alone: pgha apply \(planPath)")])
        }
        var changed: [String] = []
        for input in [spec, inventory] + (templates.map { [$0] } ?? []) {
            if (try? Self.digest(of: input.path)) != input.sha256 { changed.append(input.path) }
        }
        if !changed.isEmpty {
            throw DiagnosticsError(changed.map { Diagnostic(file: $0, line: 0, column: 0, message: "changed since the plan \(planPath) was saved; make a new plan") })
        }
        return SessionInputs(spec: spec.path, inventory: inventory.path, templates: templates?.path, pcsDialect: pcsDialect)
    }
}

extension JSONEncoder {
    public static var pgha: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }
}

extension JSONDecoder {
    public static var pgha: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
