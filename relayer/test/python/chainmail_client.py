"""A ChainMail gRPC client in Python, from stubs that grpcio-tools generates from
packages/protocol/proto: posts a signed message (JSON from `chainmail sign`, on stdin)
and waits for its outcome, then reads it back through Subscribe. Prints one JSON line.

    python -m grpc_tools.protoc -I packages/protocol/proto --python_out=OUT --grpc_python_out=OUT chainmail/v1/relayer.proto
    chainmail sign ... | PYTHONPATH=OUT python chainmail_client.py 127.0.0.1:8081
"""
import json
import sys

import grpc
from chainmail.v1 import relayer_pb2, relayer_pb2_grpc

signed = json.load(sys.stdin)
with grpc.insecure_channel(sys.argv[1]) as channel:
    relayer = relayer_pb2_grpc.RelayerServiceStub(channel)
    message = relayer_pb2.SignedMessage(
        channel=signed["channel"], author=signed["author"], body=signed["body"],
        content_type=signed["contentType"], timestamp=signed["timestamp"],
        reply_to=signed["replyTo"], nonce=signed["nonce"], signature=signed["signature"])
    outcome = relayer.PostMessage(relayer_pb2.PostMessageRequest(message=message, wait=True), timeout=60).outcome
    stream = relayer.Subscribe(relayer_pb2.SubscribeRequest(channel=signed["channel"], from_seq=outcome.seq), timeout=60)
    first = next(stream).message
    stream.cancel()
    print(json.dumps({
        "status": relayer_pb2.MessageOutcome.Status.Name(outcome.status),
        "seq": outcome.seq,
        "digest": outcome.digest,
        "subscribed": {"seq": first.seq, "digest": first.digest, "text": first.text},
    }))
