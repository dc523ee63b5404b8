"""Apple Wallet set up for a test with certificates made for it: a CA, a WWDR-like intermediate and a
pass type certificate under it (what Apple hands out), and a server certificate from the same CA
for a fake APNs (tests/rewards/apns_fake.py)."""

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PASS_TYPE = "pass.example.loyalty"
PASSWORD = "pass-key-password"  # a throwaway key's, made below


def certificate(
    subject: str, key, issuer_name: x509.Name | None, issuer_key, *, ca: bool, host: str | None = None
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if host:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key, password: str | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


@dataclass
class Chain:
    """The files written to ``folder``: ca.pem, wwdr.cer (DER, as Apple hands it out), pass.pem and
    pass.key (encrypted with PASSWORD), and apns.pem/apns.key for a server on 127.0.0.1."""

    folder: Path
    pass_certificate: x509.Certificate

    def path(self, name: str) -> str:
        return str(self.folder / name)


def make_chain(folder: Path) -> Chain:
    ca_key, wwdr_key, pass_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
    ca = certificate("Test Root CA", ca_key, None, None, ca=True)
    wwdr = certificate("Test WWDR", wwdr_key, ca.subject, ca_key, ca=True)
    cert = certificate(f"Pass Type ID: {PASS_TYPE}", pass_key, wwdr.subject, wwdr_key, ca=False)
    server = certificate("Test APNs", server_key, ca.subject, ca_key, ca=False, host="127.0.0.1")
    files = {
        "ca.pem": pem(ca),
        "wwdr.cer": wwdr.public_bytes(serialization.Encoding.DER),
        "wwdr.pem": pem(wwdr),
        "pass.pem": pem(cert),
        "pass.key": _key_pem(pass_key, PASSWORD),
        "apns.pem": pem(server),
        "apns.key": _key_pem(server_key),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return Chain(folder, cert)


def configure(settings, chain: Chain) -> None:
    """Apple Wallet on, with the chain's pass type certificate."""
    settings.WALLET_APPLE_PASS_TYPE_ID = PASS_TYPE
    settings.WALLET_APPLE_TEAM_ID = "TEAM123456"
    settings.WALLET_APPLE_CERT_FILE = chain.path("pass.pem")
    settings.WALLET_APPLE_KEY_FILE = chain.path("pass.key")
    settings.WALLET_APPLE_KEY_PASSWORD = PASSWORD
    settings.WALLET_APPLE_WWDR_FILE = chain.path("wwdr.cer")
    settings.SITE_URL = "https://loyalty.example.com"
    # Never Apple's own push service from a test: a closed port here, unless a test runs a fake APNs.
    settings.WALLET_APPLE_APNS_URL = "https://127.0.0.1:9"
    settings.WALLET_APPLE_APNS_CA_FILE = chain.path("ca.pem")
