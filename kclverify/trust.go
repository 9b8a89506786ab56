package main

// Trust kinds: who may sign what, recorded in the log itself (port of
// ledger/trust.py).
//
// ledger.genesis (index 0, self-signed) declares the origin, the checkpoint
// key and the first administrator with their key. After that, administrators
// register parties, add and revoke keys, and grant and revoke roles.
// Replaying these entries tells a verifier exactly which key spoke for which
// party with which roles at every index.

import (
	"encoding/base64"
	"strings"
)

// ADMIN is the role set of every trust kind.
var ADMIN = map[string]bool{"admin": true}

// _ALGORITHMS: the values of keys.Algorithm, in Python's order.
var trustAlgorithms = []string{"ed25519", "ecdsa-p256-sha256", "ecdsa-brainpoolp256r1-sha256"}

// KEY_SCHEMA describes a key: {keyid, algorithm, spki}.
var KEY_SCHEMA = &ObjV{
	Required: map[string]Validator{
		"keyid":     &HexV{Length: 32},
		"algorithm": &OneOfV{Values: trustAlgorithms},
		"spki":      &Base64V{MaxBytes: 512},
	},
}

// keyDescription is the {keyid, algorithm, spki} object that names a key in
// statements (trust.key_description).
func keyDescription(key PublicKey) Object {
	return Object{
		"keyid":     key.KeyID(),
		"algorithm": KeyAlgorithm(key),
		"spki":      base64.StdEncoding.EncodeToString(key.SPKI()),
	}
}

// publicKeyOf is the key described by {keyid, algorithm, spki}; all three
// must agree (trust.public_key_of).
func publicKeyOf(data Object, path string) (PublicKey, error) {
	spki, _ := data["spki"].(string)
	var key PublicKey
	der, err := trustB64Decode(data["spki"], spki, path+".spki")
	if err == nil {
		key, err = PublicKeyFromSPKI(der)
	}
	if err != nil {
		if le, ok := err.(*LedgerError); ok && !strings.HasPrefix(le.Code, "input.") {
			return nil, err // not an InvalidInput: Python lets it through
		}
		return nil, Errf("input.statement.data", "%s.spki: %s", path, err.Error())
	}
	if keyid, ok := data["keyid"].(string); !ok || key.KeyID() != keyid {
		return nil, Errf("input.statement.data", "%s.keyid does not match the SHA-256 of spki", path)
	}
	algorithm := KeyAlgorithm(key)
	if declared, ok := data["algorithm"].(string); !ok || algorithm != declared {
		return nil, Errf("input.statement.data", "%s.algorithm is %s, the key is %s",
			path, stPyStr(data["algorithm"], true), algorithm)
	}
	return key, nil
}

// trustB64Decode is encoding.b64decode for a value that may not be a string.
func trustB64Decode(value any, text string, what string) ([]byte, error) {
	if _, ok := value.(string); !ok {
		return nil, Errf("input.base64", "%s: not standard padded base64", what)
	}
	return B64Decode(text, what)
}

// trustCheckOrigin is ids.check_origin: 1-255 printable ASCII characters
// without spaces or '+' (the checkpoint note's key name).
func trustCheckOrigin(origin any) error {
	text, ok := origin.(string)
	good := ok && len(text) >= 1 && len(text) <= 255
	if good {
		for i := 0; i < len(text); i++ {
			c := text[i]
			if c < 0x21 || c > 0x7e || c == '+' {
				good = false
				break
			}
		}
	}
	if !good {
		return Errf("input.identifier", "origin %s: 1-255 printable ASCII characters without spaces or '+'",
			stPyRepr(origin))
	}
	return nil
}

// checkVkey is GENESIS_SCHEMA's check (trust._check_vkey).
func checkVkey(data Object, path string) error {
	text, _ := data["log_vkey"].(string)
	verifier, err := ParseVkey(text)
	if err == nil {
		err = trustCheckOrigin(data["origin"])
	}
	if err != nil {
		if le, ok := err.(*LedgerError); ok && !strings.HasPrefix(le.Code, "input.") {
			return err
		}
		return Errf("input.statement.data", "%s: %s", path, err.Error())
	}
	origin, _ := data["origin"].(string)
	if verifier.SignatureType != trustSigEd25519 || verifier.Name != origin {
		return Errf("input.statement.data", "%s.log_vkey must be an Ed25519 note key named after the origin", path)
	}
	return nil
}

// trustSigEd25519 is note.SIG_ED25519 (the note files own that name).
const trustSigEd25519 = 0x01

// GENESIS_SCHEMA is the data of ledger.genesis.
var GENESIS_SCHEMA = &ObjV{
	Required: map[string]Validator{
		"origin":   &TextV{MinLength: 1, MaxLength: 255},
		"log_vkey": &TextV{MinLength: 1, MaxLength: 400},
		"admin":    &SubjectV{SubjectType: "party"},
		"name":     Text(),
		"key":      KEY_SCHEMA,
	},
	Check: checkVkey,
}

// genesisKeys reads the key genesis introduces (trust._genesis_keys).
func genesisKeys(st *Statement, index int64) (map[string]*KeyRecord, error) {
	described, _ := st.Data["key"].(map[string]any)
	key, err := publicKeyOf(described, "data.key")
	if err != nil {
		return nil, err
	}
	admin, _ := st.Data["admin"].(string)
	return map[string]*KeyRecord{key.KeyID(): {KeyID: key.KeyID(), Party: admin, PublicKey: key, AddedAt: index}}, nil
}

func checkGenesis(state *LedgerState, ctx *Context) error {
	st := ctx.Statement
	if ctx.Index != 0 {
		return Errf("rule.genesis_first", "genesis must be entry 0")
	}
	origin, _ := st.Data["origin"].(string)
	if st.Subject != "ledger:"+origin {
		return Errf("input.statement.data", "genesis subject must be ledger:<origin>")
	}
	if admin, ok := st.Data["admin"].(string); !ok || st.By != admin {
		return Errf("input.statement.data", "genesis must be authored by the administrator it declares")
	}
	return nil
}

func applyGenesis(state *LedgerState, ctx *Context) error {
	data := ctx.Statement.Data
	origin, _ := data["origin"].(string)
	logVkey, _ := data["log_vkey"].(string)
	admin, _ := data["admin"].(string)
	name, _ := data["name"].(string)
	state.Origin = &origin
	state.LogVkey = &logVkey
	state.Parties[admin] = &PartyRecord{Subject: admin, Name: name, Roles: map[string]bool{"admin": true}, RegisteredAt: ctx.Index}
	keys, err := genesisKeys(ctx.Statement, ctx.Index)
	if err != nil {
		return err
	}
	for id, rec := range keys {
		state.Keys[id] = rec
	}
	return nil
}

// trustParty is trust._party: the record of a registered party.
func trustParty(state *LedgerState, subject string) (*PartyRecord, error) {
	record := state.Parties[subject]
	if record == nil {
		return nil, Errf("rule.party_registered", "%s is not a registered party", subject)
	}
	return record, nil
}

func checkPartyRegistered(state *LedgerState, ctx *Context) error {
	if _, ok := state.Parties[ctx.Statement.Subject]; ok {
		return Errf("rule.party_unique", "%s is already registered", ctx.Statement.Subject)
	}
	return nil
}

func applyPartyRegistered(state *LedgerState, ctx *Context) error {
	data := ctx.Statement.Data
	name, _ := data["name"].(string)
	roles := map[string]bool{}
	if list, ok := data["roles"].([]any); ok {
		for _, r := range list {
			if s, ok := r.(string); ok {
				roles[s] = true
			}
		}
	}
	state.Parties[ctx.Statement.Subject] = &PartyRecord{
		Subject: ctx.Statement.Subject, Name: name, Roles: roles, RegisteredAt: ctx.Index,
	}
	return nil
}

func checkKeyAdded(state *LedgerState, ctx *Context) error {
	if _, err := trustParty(state, ctx.Statement.Subject); err != nil {
		return err
	}
	key, err := publicKeyOf(ctx.Statement.Data, "data")
	if err != nil {
		return err
	}
	if _, ok := state.Keys[key.KeyID()]; ok {
		return Errf("rule.key_unique", "key %s… is already registered", stPrefix(key.KeyID(), 16))
	}
	return nil
}

func applyKeyAdded(state *LedgerState, ctx *Context) error {
	key, err := publicKeyOf(ctx.Statement.Data, "data")
	if err != nil {
		return err
	}
	// Usable from the next entry on: a key cannot authorise its own addition.
	state.Keys[key.KeyID()] = &KeyRecord{KeyID: key.KeyID(), Party: ctx.Statement.Subject, PublicKey: key, AddedAt: ctx.Index + 1}
	return nil
}

func checkKeyRevoked(state *LedgerState, ctx *Context) error {
	keyid, _ := ctx.Statement.Data["keyid"].(string)
	key := state.Keys[keyid]
	if key == nil || key.Party != ctx.Statement.Subject {
		return Errf("rule.key_of_party", "%s has no key %s…", ctx.Statement.Subject, stPrefix(keyid, 16))
	}
	if key.RevokedAt != nil {
		return Errf("rule.key_revoked_once", "key %s… is already revoked", stPrefix(keyid, 16))
	}
	return nil
}

func applyKeyRevoked(state *LedgerState, ctx *Context) error {
	// Revocation takes effect with the revoking entry itself, so a
	// compromised key cannot race its own revocation inside one batch.
	keyid, _ := ctx.Statement.Data["keyid"].(string)
	at := ctx.Index
	state.Keys[keyid].RevokedAt = &at // a missing key panics, like Python's KeyError
	return nil
}

func checkRoleGranted(state *LedgerState, ctx *Context) error {
	party, err := trustParty(state, ctx.Statement.Subject)
	if err != nil {
		return err
	}
	role, _ := ctx.Statement.Data["role"].(string)
	if party.Roles[role] {
		return Errf("rule.role_once", "%s already holds %s", party.Subject, role)
	}
	return nil
}

func applyRoleGranted(state *LedgerState, ctx *Context) error {
	role, _ := ctx.Statement.Data["role"].(string)
	state.Parties[ctx.Statement.Subject].Roles[role] = true // a missing party panics (KeyError)
	return nil
}

func checkRoleRevoked(state *LedgerState, ctx *Context) error {
	party, err := trustParty(state, ctx.Statement.Subject)
	if err != nil {
		return err
	}
	role, _ := ctx.Statement.Data["role"].(string)
	if !party.Roles[role] {
		return Errf("rule.role_held", "%s does not hold %s", party.Subject, role)
	}
	return nil
}

func applyRoleRevoked(state *LedgerState, ctx *Context) error {
	role, _ := ctx.Statement.Data["role"].(string)
	delete(state.Parties[ctx.Statement.Subject].Roles, role) // a missing party panics (KeyError)
	return nil
}

// TRUST_KINDS are the kinds of this file, registered by init.
var TRUST_KINDS []*KindSpec

func init() {
	role := &OneOfV{Values: ROLES}
	TRUST_KINDS = []*KindSpec{
		{
			Name: GENESIS_KIND, SubjectTypes: []string{"ledger"}, Roles: ADMIN,
			Schema: GENESIS_SCHEMA, Check: checkGenesis, Apply: applyGenesis,
		},
		{
			Name: "party.registered", SubjectTypes: []string{"party"}, Roles: ADMIN,
			Schema: &ObjV{
				Required: map[string]Validator{"name": Text()},
				Optional: map[string]Validator{"roles": &ListOfV{Item: role, MinItems: 0, MaxItems: len(ROLES), Unique: true}},
			},
			Check: checkPartyRegistered, Apply: applyPartyRegistered,
		},
		{
			Name: "key.added", SubjectTypes: []string{"party"}, Roles: ADMIN,
			Schema: KEY_SCHEMA, Check: checkKeyAdded, Apply: applyKeyAdded,
		},
		{
			Name: "key.revoked", SubjectTypes: []string{"party"}, Roles: ADMIN,
			Schema: &ObjV{Required: map[string]Validator{"keyid": &HexV{Length: 32}, "reason": Text()}},
			Check:  checkKeyRevoked, Apply: applyKeyRevoked,
		},
		{
			Name: "role.granted", SubjectTypes: []string{"party"}, Roles: ADMIN,
			Schema: &ObjV{Required: map[string]Validator{"role": role}},
			Check:  checkRoleGranted, Apply: applyRoleGranted,
		},
		{
			Name: "role.revoked", SubjectTypes: []string{"party"}, Roles: ADMIN,
			Schema: &ObjV{Required: map[string]Validator{"role": role}},
			Check:  checkRoleRevoked, Apply: applyRoleRevoked,
		},
	}
	for _, spec := range TRUST_KINDS {
		RegisterKind(spec)
	}
	RegisterSelfKeys(GENESIS_KIND, genesisKeys)
}
