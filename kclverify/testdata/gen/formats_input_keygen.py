import sys, hashlib, random
sys.path.insert(0, '/work/main')
from ledger.keys import PublicKey, SigningKey, Algorithm
from ledger.errors import LedgerError
from cryptography.hazmat.primitives.asymmetric import rsa, ec, x25519, ed448, x448, dsa, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives import serialization as s
random.seed(7)
def spki(k): return k.public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)
keys = []  # spki der
sigs = []  # (spki, sig, msg)
N256 = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
NBP = int("A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7", 16)
for alg in (Algorithm.ED25519, Algorithm.ECDSA_P256_SHA256, Algorithm.ECDSA_BP256R1_SHA256):
    for j in range(3):
        sk = SigningKey.generate(alg, bytes([j+1])*32 + alg.value.encode())
        der = sk.public_key.spki_der
        keys.append(der)
        for m in range(4):
            msg = bytes(random.getrandbits(8) for _ in range(random.randint(0, 80)))
            sig = sk.sign(msg)
            sigs.append((der, sig, msg))
            sigs.append((der, sig, msg + b"x"))
            if alg is Algorithm.ED25519:
                L = 2**252 + 27742317777372353535851937790883648493
                S = int.from_bytes(sig[32:], 'little')
                sigs.append((der, sig[:32] + (S + L).to_bytes(32, 'little'), msg))
                sigs.append((der, sig[:63], msg))
                sigs.append((der, sig + b"\x00", msg))
            else:
                n = N256 if alg is Algorithm.ECDSA_P256_SHA256 else NBP
                r, sv = decode_dss_signature(sig)
                sigs.append((der, encode_dss_signature(r, n - sv), msg))  # high S
                sigs.append((der, sig + b"\x00", msg))
                body = sig[2:]
                # non-minimal: add leading zero to r
                rb = r.to_bytes((r.bit_length() + 8) // 8, 'big')
                rb2 = b"\x00" + rb
                sb = sv.to_bytes((sv.bit_length() + 8) // 8, 'big')
                seq = b"\x02" + bytes([len(rb2)]) + rb2 + b"\x02" + bytes([len(sb)]) + sb
                sigs.append((der, b"\x30" + bytes([len(seq)]) + seq, msg))
                seq = b"\x02" + bytes([len(rb)]) + rb + b"\x02" + bytes([len(sb)]) + sb
                sigs.append((der, b"\x30\x81" + bytes([len(seq)]) + seq, msg))
                sigs.append((der, encode_dss_signature(r, 0), msg))
                sigs.append((der, encode_dss_signature(0, sv), msg))
                sigs.append((der, encode_dss_signature(r + n, sv), msg))
                sigs.append((der, b"\x30\x00", msg))
                sigs.append((der, sig[:10], msg))
# Ed25519 edge keys: small order points and non-canonical encodings, with a signature
SMALL = ["0100000000000000000000000000000000000000000000000000000000000000",
         "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
         "0000000000000000000000000000000000000000000000000000000000000080",
         "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
         "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
         "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
         "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
         "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"]
pre = bytes.fromhex("302a300506032b6570032100")
for h in SMALL:
    der = pre + bytes.fromhex(h)
    keys.append(der)
    for sighex in ["00"*64, "01"+"00"*63, "0100000000000000000000000000000000000000000000000000000000000000" + "00"*32, h + "00"*32]:
        sigs.append((der, bytes.fromhex(sighex), b"msg"))
# other keys
keys.append(spki(rsa.generate_private_key(65537, 1024).public_key()))
keys.append(spki(x25519.X25519PrivateKey.generate().public_key()))
keys.append(spki(x448.X448PrivateKey.generate().public_key()))
keys.append(spki(ed448.Ed448PrivateKey.generate().public_key()))
keys.append(spki(dsa.generate_private_key(1024).public_key()))
for curve in (ec.SECP384R1(), ec.SECP521R1(), ec.SECP256K1(), ec.SECP224R1(), ec.SECP256R1(), ec.BrainpoolP256R1(), ec.BrainpoolP384R1()):
    k = ec.generate_private_key(curve).public_key()
    keys.append(spki(k))
    comp = k.public_bytes(s.Encoding.X962, s.PublicFormat.CompressedPoint)
    d = spki(k)
    # compressed form: rebuild SPKI with compressed point
    algid = d[2:2 + 2 + d[3]] if d[1] < 0x80 else None
    if algid:
        bitstr = b"\x03" + bytes([len(comp) + 1]) + b"\x00" + comp
        body = algid + bitstr
        keys.append(b"\x30" + bytes([len(body)]) + body)
good = keys[3]
keys += [good[:-1] + bytes([good[-1] ^ 1]), good + b"\x00", good[:-1], b"", b"\x30\x00", pre + b"\x00" * 31, pre[:-1] + b"\x22" + b"\x00" * 34]
with open('/tmp/kcl_keys_in.txt', 'w') as f:
    for der in keys:
        try:
            k = PublicKey.from_spki_der(der); r = "ok|" + k.algorithm.value + "|" + k.keyid
        except LedgerError as e: r = e.code
        f.write("K " + (der.hex() or "-") + " " + r + "\n")
    for der, sig, msg in sigs:
        k = PublicKey.from_spki_der(der)
        try:
            k.verify(sig, msg); r = "ok"
        except LedgerError as e: r = e.code + "|" + e.message
        f.write("S " + der.hex() + " " + (sig.hex() or "-") + " " + (msg.hex() or "-") + " " + r.replace(" ", "_") + "\n")
print(len(keys), len(sigs))
