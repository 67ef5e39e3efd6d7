import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import PghaRender
import PghaSpec

// MARK: - Reading a CIB

public struct ClusterConfigError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension ClusterConfig {
    /// Parses `cibadmin --query --scope configuration` output (a `<configuration>` element) or a
    /// whole `<cib>` document.
    public static func parse(_ xml: String) throws -> ClusterConfig { try withXMLLock { try parseLocked(xml) } }

    static func parseLocked(_ xml: String) throws -> ClusterConfig {
        // XMLDocument on Linux recovers from errors (a truncated document parses as whatever
        // came before the cut, `<a></b>` as `<a/>`); XMLParser reports them, though its parse()
        // still returns true for a truncated document: check parserError too.
        let checker = XMLParser(data: Data(xml.utf8))
        guard checker.parse(), checker.parserError == nil else {
            throw ClusterConfigError("the CIB is not well-formed XML: \(checker.parserError.map { "\($0.localizedDescription)" } ?? "parse error") at line \(checker.lineNumber)")
        }
        let document: XMLDocument
        do { document = try XMLDocument(xmlString: xml, options: []) } catch {
            throw ClusterConfigError("the CIB is not well-formed XML: \(error.localizedDescription)")
        }
        guard let root = document.rootElement() else { throw ClusterConfigError("the CIB is empty") }
        let configuration: XMLElement
        switch root.name {
        case "configuration": configuration = root
        case "cib":
            guard let element = root.elements(forName: "configuration").first else {
                throw ClusterConfigError("the CIB has no <configuration>")
            }
            configuration = element
        default: throw ClusterConfigError("expected <cib> or <configuration>, found <\(root.name ?? "?")>")
        }

        var config = ClusterConfig()
        for set in children(configuration, "crm_config").flatMap({ children($0, "cluster_property_set") }) {
            merge(nvpairs(set), into: &config.properties)
        }
        for set in children(configuration, "rsc_defaults").flatMap({ children($0, "meta_attributes") }) {
            merge(nvpairs(set), into: &config.resourceDefaults)
        }
        for element in children(configuration, "resources").flatMap(elementChildren) {
            if let resource = resource(element) { config.resources.append(resource) }
        }
        for element in children(configuration, "constraints").flatMap(elementChildren) {
            if let constraint = constraint(element) { config.constraints.append(constraint) }
        }
        return config
    }

    static func children(_ element: XMLElement, _ name: String) -> [XMLElement] { element.elements(forName: name) }
    static func elementChildren(_ element: XMLElement) -> [XMLElement] { (element.children ?? []).compactMap { $0 as? XMLElement } }
    static func attribute(_ element: XMLElement, _ name: String) -> String? { element.attribute(forName: name)?.stringValue }

    /// The name/value pairs of one attribute set (references by id-ref are not followed).
    static func nvpairs(_ set: XMLElement) -> [Attribute] {
        children(set, "nvpair").compactMap { pair in
            guard let name = attribute(pair, "name") else { return nil }
            return Attribute(name, attribute(pair, "value") ?? "")
        }
    }

    /// Pacemaker uses the first set that defines a name (sets without rules, in order).
    static func merge(_ pairs: [Attribute], into list: inout [Attribute]) {
        for pair in pairs where !list.contains(where: { $0.name == pair.name }) { list.append(pair) }
    }

    static func attributes(_ element: XMLElement, _ setName: String) -> [Attribute] {
        var list: [Attribute] = []
        for set in children(element, setName) { merge(nvpairs(set), into: &list) }
        return list
    }

    static func primitive(_ element: XMLElement) -> Primitive? {
        guard let id = attribute(element, "id") else { return nil }
        let agent = Agent(standard: attribute(element, "class") ?? "", provider: attribute(element, "provider"),
                          type: attribute(element, "type") ?? "")
        let operations = children(element, "operations").flatMap { children($0, "op") }.map { op in
            Operation(name: attribute(op, "name") ?? "", interval: attribute(op, "interval") ?? "0",
                      role: attribute(op, "role"), timeout: attribute(op, "timeout"), onFail: attribute(op, "on-fail"))
        }
        return Primitive(id: id, agent: agent, instance: attributes(element, "instance_attributes"),
                         meta: attributes(element, "meta_attributes"), operations: operations)
    }

    static func group(_ element: XMLElement) -> Group? {
        guard let id = attribute(element, "id") else { return nil }
        return Group(id: id, members: children(element, "primitive").compactMap(primitive),
                     meta: attributes(element, "meta_attributes"))
    }

    static func resource(_ element: XMLElement) -> Resource? {
        switch element.name {
        case "primitive": return primitive(element).map(Resource.primitive)
        case "group": return group(element).map(Resource.group)
        case "clone", "master":
            guard let id = attribute(element, "id") else { return nil }
            let child: Clone.Child
            if let p = children(element, "primitive").first.flatMap(primitive) { child = .primitive(p) }
            else if let g = children(element, "group").first.flatMap(group) { child = .group(g) }
            else { return nil }
            var meta = attributes(element, "meta_attributes")
            let promotable = element.name == "master" ||
                meta.first { $0.name == "promotable" }.flatMap { CIBValue.boolean($0.value, numbers: true) } == true
            meta.removeAll { $0.name == "promotable" }
            return .clone(Clone(id: id, tag: element.name ?? "clone", promotable: promotable, meta: meta, child: child))
        default:
            return nil  // bundles, templates, tags: nothing pgha creates
        }
    }

    static func constraint(_ element: XMLElement) -> Constraint? {
        // Constraints over resource sets are never pgha's.
        guard element.elements(forName: "resource_set").isEmpty else { return nil }
        switch element.name {
        case "rsc_colocation":
            guard let rsc = attribute(element, "rsc"), let with = attribute(element, "with-rsc") else { return nil }
            return .colocation(Colocation(id: attribute(element, "id"), rsc: rsc, rscRole: attribute(element, "rsc-role"),
                                          withRsc: with, withRscRole: attribute(element, "with-rsc-role"),
                                          score: attribute(element, "score") ?? "INFINITY"))
        case "rsc_order":
            guard let first = attribute(element, "first"), let then = attribute(element, "then") else { return nil }
            return .order(Order(id: attribute(element, "id"), first: first, firstAction: attribute(element, "first-action"),
                                then: then, thenAction: attribute(element, "then-action"), kind: attribute(element, "kind"),
                                score: attribute(element, "score"), symmetrical: attribute(element, "symmetrical")))
        case "rsc_location":
            // Only a resource on a node with a score: rules, patterns and roles are never pgha's.
            guard element.elements(forName: "rule").isEmpty, attribute(element, "rsc-pattern") == nil, attribute(element, "role") == nil,
                  let rsc = attribute(element, "rsc"), let node = attribute(element, "node"), let score = attribute(element, "score")
            else { return nil }
            return .location(Location(id: attribute(element, "id"), rsc: rsc, node: node, score: score))
        default:
            return nil  // tickets: not pgha's
        }
    }
}

