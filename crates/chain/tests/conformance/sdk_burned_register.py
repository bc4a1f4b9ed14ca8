"""The Python Bittensor SDK (10.5) as a second client of the conformance chain: registers a hotkey
with `Subtensor.burned_register`, which the Rust test then looks for in its own metagraph.

    python sdk_burned_register.py WS_URL NETUID COLDKEY_URI HOTKEY_URI

Prints `uid N` (the SDK's own read of the new uid) on success; exits 1 when the SDK reports failure.
The SDK's post-registration neuron read fails on spec 218 (no typed runtime APIs), which is fine.
"""
import sys
import tempfile

import bittensor as bt
from bittensor_wallet import Keypair, Wallet

url, netuid, cold_uri, hot_uri = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
wallet = Wallet(name="conformance", hotkey="hot", path=tempfile.mkdtemp())
wallet.set_coldkey(Keypair.create_from_uri(cold_uri), encrypt=False, overwrite=True)
wallet.set_coldkeypub(Keypair.create_from_uri(cold_uri), overwrite=True)
wallet.set_hotkey(Keypair.create_from_uri(hot_uri), encrypt=False, overwrite=True)
subtensor = bt.Subtensor(network=url)
result = subtensor.burned_register(wallet=wallet, netuid=netuid, wait_for_inclusion=True, wait_for_finalization=False)
uid = subtensor.get_uid_for_hotkey_on_subnet(wallet.hotkey.ss58_address, netuid)
print(f"uid {uid}")
sys.exit(0 if uid is not None else 1)
