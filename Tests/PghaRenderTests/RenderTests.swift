import Foundation
import PghaRender
import PghaSpec
import XCTest

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

func loadSpec(_ name: String) throws -> ClusterSpec {
    let result = SpecLoader.load(path: "\(repositoryRoot)/specs/\(name).yaml", displayPath: "specs/\(name).yaml")
    return try XCTUnwrap(result.value, "\(result.diagnostics)")
}

/// The fixed secret of the golden files, so they are stable and obviously not real.
let goldenSecret = "golden-secret:with\\specials"

func render(_ spec: ClusterSpec, _ dialect: ClusterSpec.PcsDialect? = nil, templates: TemplateSet = .builtin) throws -> [RenderedFile] {
    try Renderer(spec: spec, dialect: dialect ?? spec.pacemaker.pcsDialect ?? .v0_11, templates: templates,
                 secrets: { _ in goldenSecret }, pgpoolDialect: spec.pgpool?.dialect ?? .v4_2).renderAll()
}

final class GoldenFileTests: XCTestCase {
    /// Rendered files of each committed spec equal Tests/Golden/<spec>/…; PGHA_UPDATE_GOLDEN=1 rewrites them.
    func testRenderedFilesMatchGoldenFiles() throws {
        let update = ProcessInfo.processInfo.environment["PGHA_UPDATE_GOLDEN"] == "1"
        for name in ["seed-000", "seed-001", "testbed", "seed-004", "testbed-pgpool", "testbed-debian13", "testbed-debian11", "testbed-pgpool-debian13", "seed-002", "seed-003"] {
            let files = try render(try loadSpec(name))
            let root = "\(repositoryRoot)/Tests/Golden/\(name)"
            var expectedPaths = Set<String>()
            if let enumerator = FileManager.default.enumerator(atPath: root) {
                for case let path as String in enumerator where !isDirectory("\(root)/\(path)") && path != "plan.txt" {
                    expectedPaths.insert(path)
                }
            }
            for file in files {
                let path = "\(root)/\(file.outputPath)"
                if update {
                    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    try file.content.write(toFile: path, atomically: true, encoding: .utf8)
                    continue
                }
                let golden = try? String(contentsOfFile: path, encoding: .utf8)
                XCTAssertEqual(file.content, golden, "\(name)/\(file.outputPath) differs from its golden file")
                expectedPaths.remove(file.outputPath)
            }
            if !update { XCTAssertEqual(expectedPaths, [], "\(name): golden files no longer rendered") }
        }
    }

    func isDirectory(_ path: String) -> Bool {
        var flag: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
    }

    /// The binary carries a copy of templates/: it must be the same text.
    func testBuiltinTemplatesEqualTheTemplatesFolder() throws {
        let folder = "\(repositoryRoot)/templates"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        XCTAssertEqual(names, TemplateSet.builtin.templates.keys.sorted(), "run scripts/embed-templates")
        for name in names {
            let text = try String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8)
            XCTAssertEqual(TemplateSet.builtin.templates[name]?.text, text, "\(name): run scripts/embed-templates")
        }
    }

    func testFilesModesOwnersAndSecrets() throws {
        let files = try render(try loadSpec("testbed"))
        let pgpass = try XCTUnwrap(files.first { $0.node == "node2" && $0.path.hasSuffix("/.pgpass") })
        XCTAssertEqual(pgpass.path, "/var/lib/postgresql/.pgpass")
        XCTAssertEqual(pgpass.mode, 0o600)
        XCTAssertEqual(pgpass.owner, "postgres")
        XCTAssertTrue(pgpass.sensitive)
        XCTAssertEqual(pgpass.content, "*:5432:*:repluser:golden-secret\\:with\\\\specials\n")
        // The secret is in .pgpass and nowhere else.
        for file in files where !file.sensitive {
            XCTAssertFalse(file.content.contains("golden-secret"), "\(file.outputPath) leaks the secret")
        }
        let hosts = try XCTUnwrap(files.first { $0.node == "node1" && $0.path == "/etc/hosts" })
        XCTAssertEqual(hosts.kind, .managedBlock)
    }

    func testRedactedRenderingNeedsNoSecret() throws {
        let files = try Renderer(spec: try loadSpec("testbed"), dialect: .v0_11, secrets: nil).renderAll()
        let pgpass = try XCTUnwrap(files.first { $0.path.hasSuffix("/.pgpass") })
        XCTAssertEqual(pgpass.content, "*:5432:*:repluser:(sensitive)\n")
    }

    func testAnUnsetSecretIsAnError() throws {
        let spec = try loadSpec("testbed")
        XCTAssertThrowsError(try Renderer(spec: spec, dialect: .v0_11, secrets: { try $0.resolve(environment: [:]) }).renderAll()) { error in
            XCTAssertEqual("\(error)", "specs/testbed.yaml: error: replication.password: environment variable PGHA_REPLICATION_PASSWORD is not set; export it before running pgha")
        }
    }
}

final class StrictTemplateTests: XCTestCase {
    func testMissingVariableIsAnErrorWithItsPosition() {
        let template = StrictTemplate(name: "t.stencil", text: "a = {{ pg.port }}\nb = {{ pg.data_dri }}\n{% for s in settings %}{{ s.kye }}{% endfor %}\n{{ nothing }}")
        let context: [String: Any] = ["pg": ["port": 5432, "data_dir": "/d"], "settings": [["key": "x"]]]
        XCTAssertThrowsError(try template.render(context)) { error in
            XCTAssertEqual("\(error)", """
                t.stencil:2:8: error: unknown variable 'pg.data_dri'; did you mean 'pg.data_dir'?
                t.stencil:3:27: error: unknown variable 's.kye'; did you mean 's.key'?
                t.stencil:4:4: error: unknown variable 'nothing'
                """)
        }
    }

    func testLoopsOverEmptyListsAndDefaultsAreFine() throws {
        let template = StrictTemplate(name: "t", text: "{% for r in rules %}{{ r.anything }}{% endfor %}{{ x|default:\"y\" }}{% if rules.count > 0 %}z{% endif %}")
        XCTAssertEqual(try template.render(["rules": [Any]()]), "y")
    }

    func testSyntaxErrorsCarryTheirPosition() {
        let template = StrictTemplate(name: "t.stencil", text: "ok\n{% for x in xs %}\nnever closed\n")
        XCTAssertThrowsError(try template.render(["xs": [1]])) { error in
            XCTAssertTrue("\(error)".hasPrefix("t.stencil:2:"), "\(error)")
        }
    }

    func testOverrideFolderReplacesByNameAndRejectsUnknownNames() throws {
        let folder = NSTemporaryDirectory() + "pgha-templates-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "{{ pg.port }} custom\n".write(toFile: "\(folder)/pgpass.stencil", atomically: true, encoding: .utf8)
        let set = try TemplateSet.overriding(with: folder)
        let files = try render(try loadSpec("testbed"), templates: set)
        XCTAssertEqual(files.first { $0.path.hasSuffix(".pgpass") }?.content, "5432 custom\n")

        try "x".write(toFile: "\(folder)/postgresq.conf.stencil", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TemplateSet.overriding(with: folder)) { error in
            XCTAssertTrue("\(error)".contains("postgresq.conf.stencil: error: not a pgha template name; did you mean 'postgresql.conf.stencil'?"), "\(error)")
        }
    }

    func testATypoInAnOverrideFailsTheRender() throws {
        let folder = NSTemporaryDirectory() + "pgha-templates-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "archive_command = 'cp %p {{ pg.archive_dri }}/%f'\n".write(toFile: "\(folder)/postgresql.conf.stencil", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try render(try loadSpec("testbed"), templates: try TemplateSet.overriding(with: folder))) { error in
            XCTAssertEqual("\(error)", "\(folder)/postgresql.conf.stencil:1:29: error: unknown variable 'pg.archive_dri'; did you mean 'pg.archive_dir'?")
        }
    }
}

final class ManagedBlockTests: XCTestCase {
    let block = "# BEGIN pgha managed block: x\n10.0.0.1 n1\n# END pgha managed block\n"

    func testAppendsWhenAbsentAndKeepsOtherLines() {
        let merged = ManagedBlock.merge(existing: "127.0.0.1 localhost\n::1 localhost\n", block: block)
        XCTAssertEqual(merged, "127.0.0.1 localhost\n::1 localhost\n" + block)
    }

    func testReplacesOnlyTheBlock() {
        let existing = "127.0.0.1 localhost\n# BEGIN pgha managed block: x\n10.9.9.9 old\n# END pgha managed block\n10.5.5.5 mine\n"
        XCTAssertEqual(ManagedBlock.merge(existing: existing, block: block),
                       "127.0.0.1 localhost\n# BEGIN pgha managed block: x\n10.0.0.1 n1\n# END pgha managed block\n10.5.5.5 mine\n")
        XCTAssertEqual(ManagedBlock.extract(from: existing), "# BEGIN pgha managed block: x\n10.9.9.9 old\n# END pgha managed block\n")
    }

    func testMergeIsIdempotent() {
        let once = ManagedBlock.merge(existing: "a\n", block: block)
        XCTAssertEqual(ManagedBlock.merge(existing: once, block: block), once)
    }
}
