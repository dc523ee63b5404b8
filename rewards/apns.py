"""Apple's push service (APNs) for Apple Wallet: one "this pass changed" push to one device.

Apple's Wallet guide: the push goes to the push token the device registered with our PassKit web
service (rewards.views.wallet), its topic is the pass type identifier, its payload an empty JSON
dictionary; the wallet then asks the web service which passes changed and fetches them. APNs takes
it over HTTP/2 only, the connection authenticated by the pass type certificate the passes are signed
with (the same certificate and key, rewards.passkit). Nothing here touches the database.
"""

import ssl
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from django.conf import settings

# APNs answers in well under a second; a worker must not hang on it (the push is retried).
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# APNs' reasons that mean the wallet is gone from the device (its registration is dead for good).
GONE = {"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered"}


@dataclass(frozen=True)
class Answer:
    """What APNs said: its HTTP status (0 when no answer came) and its reason, or what went wrong."""

    status: int
    reason: str = ""

    @property
    def delivered(self) -> bool:
        return self.status == 200

    @property
    def gone(self) -> bool:
        """The device no longer holds the pass or cannot be reached with this token, ever."""
        return self.status == 410 or (self.status == 400 and self.reason in GONE)

    @property
    def worth_retrying(self) -> bool:
        """No answer, too many requests or APNs' own trouble: the same push may go through later."""
        return self.status == 0 or self.status == 429 or self.status >= 500


def connect() -> httpx.Client:
    """A client for APNs, HTTP/2 only, presenting the pass type certificate. Reuse it for a batch:
    APNs prefers a few long-lived connections to one per push."""
    context = ssl.create_default_context(cafile=settings.WALLET_APPLE_APNS_CA_FILE or None)
    context.load_cert_chain(
        settings.WALLET_APPLE_CERT_FILE,
        settings.WALLET_APPLE_KEY_FILE,
        password=settings.WALLET_APPLE_KEY_PASSWORD or None,
    )
    return httpx.Client(
        http1=False, http2=True, verify=context, timeout=TIMEOUT, base_url=settings.WALLET_APPLE_APNS_URL.rstrip("/")
    )


def send(client: httpx.Client, push_token: str) -> Answer:
    """Push "this pass changed" to one device. Never raises for the network: a timeout or a refused
    connection is an ``Answer`` with status 0."""
    headers = {
        "apns-topic": settings.WALLET_APPLE_PASS_TYPE_ID,
        # Apple's Wallet guide names only the topic and the empty payload. The push shows nothing on
        # the device, which is APNs' "background" type; APNs refuses that type at priority 10.
        "apns-push-type": "background",
        "apns-priority": "5",
    }
    try:
        response = client.post(f"/3/device/{quote(push_token, safe='')}", content=b"{}", headers=headers)
    except httpx.TransportError as error:  # timeouts, refused or broken connections, TLS failures
        return Answer(0, f"{type(error).__name__}: {error}"[:300])
    if response.status_code == 200:
        return Answer(200)
    try:
        reason = str(response.json().get("reason", ""))
    except (ValueError, AttributeError):
        reason = response.text[:100]
    return Answer(response.status_code, reason[:100])
