package main

// The registry of statement kinds (port of ledger/kinds.py).
//
// A kind fixes everything a statement of that kind must satisfy: the subject
// type, the schema of data, which roles may sign it (and, for two-party kinds,
// which field names the counterparty and which roles it needs), the guard
// rules and how it changes the ledger state. The KindSpec type and the
// Registry map live in types.go; this file holds what kinds.py adds to them.

import (
	"fmt"
	"sort"
	"strings"
)

// ROLES are the roles a party can hold (kinds.ROLES, in Python's order).
var ROLES = []string{"admin", "manufacturer", "warehouse", "carrier", "technician", "practice", "auditor"}

// registryGet is KindRegistry.get: the kind or input.statement.unknown_kind.
func registryGet(name string) (*KindSpec, error) {
	spec, ok := Registry[name]
	if !ok {
		return nil, Errf("input.statement.unknown_kind", "unknown statement kind %s", pyStr(name))
	}
	return spec, nil
}

// checkKindRoles is the role check of KindRegistry.register: every role a
// kind names must be one of ROLES. RegisterKind (types.go) does not run it;
// the tests run it over the whole registry.
func checkKindRoles(spec *KindSpec) error {
	known := make(map[string]bool, len(ROLES))
	for _, r := range ROLES {
		known[r] = true
	}
	var unknown []string
	seen := map[string]bool{}
	for _, set := range []map[string]bool{spec.Roles, spec.CounterpartyRoles} {
		for r := range set {
			if !known[r] && !seen[r] {
				seen[r] = true
				unknown = append(unknown, r)
			}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		quoted := make([]string, len(unknown))
		for i, r := range unknown {
			quoted[i] = pyStr(r)
		}
		return fmt.Errorf("kind %s: unknown roles [%s]", spec.Name, strings.Join(quoted, ", "))
	}
	return nil
}

// stRoleSet builds a set of role names.
func stRoleSet(roles ...string) map[string]bool {
	set := make(map[string]bool, len(roles))
	for _, r := range roles {
		set[r] = true
	}
	return set
}

// stSortedKeys returns the members of a string set in ascending order (Python sorted()).
func stSortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
