"""Apollo Federation ``@link`` name resolution and the definitions a subgraph SDL leaves out.

A federation 2 subgraph names its directives through ``@link(url: ".../federation/v2.x", import: [...])``
on ``schema`` or ``extend schema``: an imported element keeps its name or takes the one given by
``{name: "@requiresScopes", as: "@scopes"}``; an element that is not imported is reachable as
``@federation__requiresScopes`` (or ``@<as>__requiresScopes`` when the link itself is renamed). A supergraph
links the ``requiresScopes`` and ``authenticated`` specifications directly, whose main directive takes the
specification's name. Only a schema with no ``@link`` at all (federation 1 or a plain schema) uses the plain
names: in a linked schema, a directive is ours only through a link to the federation specification or to the
``requiresScopes``/``authenticated`` specifications (Apollo Router resolves them the same way, and enforces
nothing it cannot resolve), so a ``@requiresScopes`` the links do not import is a start-up error, and an
``@authenticated`` imported from some other specification is not ours.

Subgraph SDL usually applies these directives without defining them, which graphql-core rejects; so
:func:`prepare_document` supplies the missing definitions (and the scalars they reference) and turns type
extensions that extend nothing (``extend type Query`` in a federation 1 subgraph) into definitions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    parse,
    value_from_ast_untyped,
)
from graphql.language import DefinitionNode, Node

from fastmcp_scopes.errors import GraphQLScopeError

__all__ = ["DirectiveNames", "LinkedSpec", "prepare_document"]

# Spec URLs end in "/<name>/v<major>.<minor>" (https://specs.apollo.dev/federation/v2.5).
_SPEC_URL = re.compile(r"/(?P<name>[A-Za-z_][A-Za-z0-9_]*)/(?P<version>v\d+\.\d+)/?$")

_LOCATIONS_AUTH = "FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM"
_LOCATIONS_TAG = (
    "FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE"
    " | INPUT_OBJECT | INPUT_FIELD_DEFINITION"
)

# element -> (arguments, locations, repeatable). "{FieldSet}" etc. stand for the local type names.
_FEDERATION_DIRECTIVES: dict[str, tuple[str, str, bool]] = {
    "key": ("(fields: {FieldSet}!, resolvable: Boolean = true)", "OBJECT | INTERFACE", True),
    "requires": ("(fields: {FieldSet}!)", "FIELD_DEFINITION", False),
    "provides": ("(fields: {FieldSet}!)", "FIELD_DEFINITION", False),
    "external": ("(reason: String)", "OBJECT | FIELD_DEFINITION", False),
    "extends": ("", "OBJECT | INTERFACE", False),
    "shareable": ("", "OBJECT | FIELD_DEFINITION", True),
    "inaccessible": ("", _LOCATIONS_TAG, False),
    "tag": ("(name: String!)", _LOCATIONS_TAG + " | SCHEMA", True),
    "override": ("(from: String!, label: String)", "FIELD_DEFINITION", False),
    "composeDirective": ("(name: String!)", "SCHEMA", True),
    "interfaceObject": ("", "OBJECT", False),
    "authenticated": ("", _LOCATIONS_AUTH, False),
    "requiresScopes": ("(scopes: [[{Scope}!]!]!)", _LOCATIONS_AUTH, False),
    "policy": ("(policies: [[{Policy}!]!]!)", _LOCATIONS_AUTH, False),
    "context": ("(name: String!)", "OBJECT | INTERFACE | UNION", True),
    "fromContext": ("(field: {ContextFieldValue})", "ARGUMENT_DEFINITION", False),
    "cost": (
        "(weight: Int!)",
        "ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR",
        False,
    ),
    "listSize": (
        "(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], "
        "requireOneSlicingArgument: Boolean = true)",
        "FIELD_DEFINITION",
        False,
    ),
}
_FEDERATION_TYPES = ("FieldSet", "Scope", "Policy", "ContextFieldValue")
# Federation 1 and plain schemas: the names graphql tooling has always used for the field-set scalar.
_PLAIN_TYPE_NAMES = {
    "FieldSet": "_FieldSet",
    "Scope": "federation__Scope",
    "Policy": "federation__Policy",
    "ContextFieldValue": "federation__ContextFieldValue",
}
# Specifications whose main directive carries scope semantics (supergraphs link these directly).
_SCOPE_SPECS = {"requiresScopes": "requiresScopes", "authenticated": "authenticated", "policy": "policy"}
_SCOPE_SPEC_TYPES = {"requiresScopes": ("Scope",), "policy": ("Policy",), "authenticated": ()}

_EXTENSION_TO_DEFINITION: dict[type[TypeExtensionNode], type[TypeDefinitionNode]] = {
    ObjectTypeExtensionNode: ObjectTypeDefinitionNode,
    InterfaceTypeExtensionNode: InterfaceTypeDefinitionNode,
    UnionTypeExtensionNode: UnionTypeDefinitionNode,
    EnumTypeExtensionNode: EnumTypeDefinitionNode,
    InputObjectTypeExtensionNode: InputObjectTypeDefinitionNode,
    ScalarTypeExtensionNode: ScalarTypeDefinitionNode,
}


@dataclass(frozen=True, slots=True)
class LinkedSpec:
    """One ``@link`` on the schema: the specification's name and version, its local prefix, and its
    imports as ``{element: local name}`` (``"@requiresScopes" -> "@scopes"``; types without ``@``)."""

    name: str
    version: str
    prefix: str
    imports: dict[str, str]

    def local_directive(self, element: str) -> str:
        """The name under which this schema applies the spec's directive ``element`` (no ``@``)."""
        imported = self.imports.get("@" + element)
        if imported is not None:
            return imported.removeprefix("@")
        # A spec's own main directive (``@link``, ``@requiresScopes``) is named by the prefix alone.
        return self.prefix if element == self.name else f"{self.prefix}__{element}"

    def local_type(self, element: str) -> str:
        """The name under which this schema refers to the spec's type ``element``."""
        return self.imports.get(element, f"{self.prefix}__{element}")


@dataclass(frozen=True, slots=True)
class DirectiveNames:
    """The local names that mean ``@requiresScopes`` and ``@authenticated`` in one schema document.

    ``subgraph`` is true for a federation 2 subgraph (it links the federation specification): composition
    will copy its implementations' requirements onto the interfaces they implement, and so does the analysis.
    """

    requires_scopes: frozenset[str]
    authenticated: frozenset[str]
    subgraph: bool = False


# The elements with scope semantics, as applied in a schema that links nothing (plain and federation 1).
_SCOPE_ELEMENTS = ("requiresScopes", "authenticated")


def prepare_document(document: DocumentNode) -> tuple[DocumentNode, DirectiveNames]:
    """Resolve the scope directives' local names and supply the definitions the document leaves out.

    Returns the document to build (the input when nothing was missing) and the resolved names.
    Raises :class:`GraphQLScopeError` for an ``@link`` whose arguments cannot be read.
    """
    links = list(_links(document))
    federation = [link for link in links if link.name == "federation"]

    directive_elements: dict[str, str] = {}  # local directive name -> federation element
    type_elements: dict[str, str] = {}  # local type name -> federation element
    if federation:
        for link in federation:
            for element in _FEDERATION_DIRECTIVES:
                directive_elements[link.local_directive(element)] = element
                # The namespaced name stays usable for an imported element, as in Apollo's composition.
                directive_elements[f"{link.prefix}__{element}"] = element
            for element in _FEDERATION_TYPES:
                type_elements[element] = link.local_type(element)
    else:
        # Federation 1 subgraphs, supergraphs (composed directives keep their name) and plain schemas.
        directive_elements.update({element: element for element in _FEDERATION_DIRECTIVES})
        type_elements.update(_PLAIN_TYPE_NAMES)
    for link in links:
        if link.name in _SCOPE_SPECS:
            directive_elements[link.local_directive(link.name)] = _SCOPE_SPECS[link.name]
            for element in _SCOPE_SPEC_TYPES[link.name]:
                type_elements[element] = link.local_type(element)

    if links:
        # Only what the links resolve: a plain name that no link binds to our specifications is not ours.
        linked = {local: element for local, element in directive_elements.items() if federation or local != element}
        for link in links:
            if link.name in _SCOPE_SPECS:
                linked[link.local_directive(link.name)] = _SCOPE_SPECS[link.name]
    else:
        linked = directive_elements
    names = DirectiveNames(
        requires_scopes=frozenset(n for n, e in linked.items() if e == "requiresScopes"),
        authenticated=frozenset(n for n, e in linked.items() if e == "authenticated"),
        subgraph=bool(federation),
    )
    definitions = list(document.definitions)
    defined_directives = {d.name.value for d in definitions if isinstance(d, DirectiveDefinitionNode)}
    defined_types = {d.name.value for d in definitions if isinstance(d, TypeDefinitionNode)}
    used = {d.name.value for d in _applied_directives(definitions)}
    if links:
        _refuse_unlinked(definitions, links, names)

    supplied: list[str] = []
    if links:
        link_spec = next((link for link in links if link.name == "link"), None)
        link_name = link_spec.local_directive("link") if link_spec else "link"
        import_type = link_spec.local_type("Import") if link_spec else "link__Import"
        purpose_type = link_spec.local_type("Purpose") if link_spec else "link__Purpose"
        if link_name not in defined_directives:
            supplied.append(
                f"directive @{link_name}(url: String, as: String, for: {purpose_type}, import: [{import_type}])"
                " repeatable on SCHEMA"
            )
            supplied.extend(_missing_scalar(import_type, defined_types))
            if purpose_type not in defined_types:
                supplied.append(f"enum {purpose_type} {{ SECURITY EXECUTION }}")
                defined_types.add(purpose_type)
    for local, element in sorted(directive_elements.items()):
        if local in used and local not in defined_directives:
            arguments, locations, repeatable = _FEDERATION_DIRECTIVES[element]
            for type_element in _FEDERATION_TYPES:
                if "{" + type_element + "}" in arguments:
                    supplied.extend(_missing_scalar(type_elements[type_element], defined_types))
            arguments = arguments.format(**type_elements)
            supplied.append(f"directive @{local}{arguments} {'repeatable ' if repeatable else ''}on {locations}")
            defined_directives.add(local)

    definitions = _complete_orphan_extensions(definitions, defined_types)
    if supplied:
        definitions.extend(parse("\n".join(supplied), no_location=True).definitions)
    if definitions != list(document.definitions):
        document = DocumentNode(definitions=tuple(definitions), loc=document.loc)
    return document, names


def _refuse_unlinked(definitions: list[DefinitionNode], links: list[LinkedSpec], names: DirectiveNames) -> None:
    """Refuse a scope directive applied in a linked schema that no link resolves to our specifications.

    Such a directive loads as an unknown one and would mean "no scope", while its author meant a requirement:
    Apollo Router would not enforce it either. A name that another specification imports is that
    specification's, not ours, and is left alone.
    """
    ours = names.requires_scopes | names.authenticated
    foreign = {
        local.removeprefix("@")
        for link in links
        if link.name != "federation" and link.name not in _SCOPE_SPECS
        for local in link.imports.values()
    }
    federation = next((link for link in links if link.name == "federation"), None)
    for directive in _applied_directives(definitions):
        name = directive.name.value
        element = name.rpartition("__")[2]
        if element not in _SCOPE_ELEMENTS or name in ours or name in foreign:
            continue
        if federation is not None:
            fix = (
                f'import it: @{_link_name(links)}(url: "https://specs.apollo.dev/federation/{federation.version}", '
                f'import: [..., "@{element}"])'
            )
        else:
            fix = f'link its specification: @{_link_name(links)}(url: "https://specs.apollo.dev/{element}/v0.1")'
        raise GraphQLScopeError(
            f"@{name} is applied{_at(directive)} but no @link of this schema resolves it to the {element} "
            f"directive, so it would require nothing (Apollo Router ignores it too); {fix}"
        )


def _link_name(links: list[LinkedSpec]) -> str:
    link_spec = next((link for link in links if link.name == "link"), None)
    return link_spec.local_directive("link") if link_spec is not None else "link"


def _missing_scalar(name: str, defined_types: set[str]) -> list[str]:
    if name in defined_types:
        return []
    defined_types.add(name)
    return [f"scalar {name}"]


def _links(document: DocumentNode) -> Iterator[LinkedSpec]:
    """Every ``@link``-shaped directive on ``schema``/``extend schema``: one with a spec ``url`` argument.

    Matching on the ``url`` argument rather than the name ``link`` also finds a link spec renamed with ``as:``.
    """
    for definition in document.definitions:
        if not isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            continue
        for directive in definition.directives or ():
            arguments = {a.name.value: a.value for a in directive.arguments or ()}
            if "url" not in arguments:
                continue
            url = value_from_ast_untyped(arguments["url"])
            match = _SPEC_URL.search(url) if isinstance(url, str) else None
            if match is None:
                continue
            spec = match["name"]
            prefix = value_from_ast_untyped(arguments["as"]) if "as" in arguments else spec
            raw_imports = value_from_ast_untyped(arguments["import"]) if "import" in arguments else []
            if not isinstance(prefix, str) or not isinstance(raw_imports, list):
                raise GraphQLScopeError(f"@{directive.name.value}(url: {url!r}){_at(directive)}: cannot read as/import")
            yield LinkedSpec(spec, match["version"], prefix, _read_imports(raw_imports, directive))


def _read_imports(raw_imports: list[object], directive: DirectiveNode) -> dict[str, str]:
    imports: dict[str, str] = {}
    for item in raw_imports:
        if isinstance(item, str):
            imports[item] = item
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            name: str = item["name"]
            alias = item.get("as", name)
            if not isinstance(alias, str) or name.startswith("@") != alias.startswith("@"):
                raise GraphQLScopeError(
                    f"@{directive.name.value} import {item!r}{_at(directive)}: "
                    "'as' must rename a directive to a directive (both with '@') or a type to a type"
                )
            imports[name] = alias
        else:
            raise GraphQLScopeError(
                f"@{directive.name.value} import {item!r}{_at(directive)}: "
                'expected "@name" or {name: "@name", as: "@alias"}'
            )
    return imports


def _applied_directives(definitions: list[DefinitionNode]) -> Iterator[DirectiveNode]:
    """Every directive applied anywhere in type-system definitions (types, fields, arguments, values)."""
    for definition in definitions:
        yield from getattr(definition, "directives", None) or ()
        for member_list in ("fields", "values", "arguments"):
            for member in getattr(definition, member_list, None) or ():
                yield from _directives_of(member)


def _directives_of(member: Node) -> Iterator[DirectiveNode]:
    yield from getattr(member, "directives", None) or ()
    for argument in getattr(member, "arguments", None) or ():
        yield from getattr(argument, "directives", None) or ()


def _complete_orphan_extensions(definitions: list[DefinitionNode], defined_types: set[str]) -> list[DefinitionNode]:
    """Turn the first extension of a type that is never defined into its definition.

    Federation 1 subgraphs write ``extend type Query`` for types another subgraph owns; graphql-core
    would refuse to extend a type it has not seen.
    """
    result: list[DefinitionNode] = []
    for definition in definitions:
        definition_class = _EXTENSION_TO_DEFINITION.get(type(definition))  # type: ignore[arg-type]
        if definition_class is not None and isinstance(definition, TypeExtensionNode):
            name = definition.name.value
            if name not in defined_types:
                defined_types.add(name)
                keys = {k: getattr(definition, k) for k in definition.keys if k != "loc"}
                result.append(definition_class(**keys, description=None, loc=definition.loc))
                continue
        result.append(definition)
    return result


def _at(node: Node) -> str:
    if node.loc is None:
        return ""
    location = node.loc.source.get_location(node.loc.start)
    return f" at {node.loc.source.name}:{location.line}:{location.column}"
