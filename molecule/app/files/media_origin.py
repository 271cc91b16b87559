"""STAND-IN for CloudFront's origin access control in the Molecule app scenario: nginx's media
origin. It reads the private media bucket on the in-container moto server with SigV4-signed
requests (boto3), as CloudFront does for the distribution on AWS, so no bucket statement grants
anonymous read. GET and HEAD of /<key> (Range passed through); 127.0.0.1 only.

    python media_origin.py PORT ENDPOINT BUCKET
"""

from __future__ import annotations

import http.server
import sys
import urllib.parse

import boto3
from botocore.exceptions import ClientError

port, endpoint, bucket = int(sys.argv[1]), sys.argv[2], sys.argv[3]
# Keys from the environment (moto accepts any): what matters is that every read is signed.
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1")
PASSED = ("Content-Type", "Content-Length", "Content-Range", "ETag", "Last-Modified")


class Origin(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        key = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path.lstrip("/"))
        extra = {"Range": self.headers["Range"]} if self.headers.get("Range") else {}
        try:
            found = s3.get_object(Bucket=bucket, Key=key, **extra)
        except ClientError as err:
            status = err.response["ResponseMetadata"]["HTTPStatusCode"]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        meta = found["ResponseMetadata"]
        headers = {k.lower(): v for k, v in meta["HTTPHeaders"].items()}
        self.send_response(meta["HTTPStatusCode"])
        for name in PASSED:
            if name.lower() in headers:
                self.send_header(name, headers[name.lower()])
        self.end_headers()
        stream = found["Body"]
        if body:
            for chunk in iter(lambda: stream.read(65536), b""):
                self.wfile.write(chunk)
        stream.close()

    def log_message(self, *_args: object) -> None:
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Origin).serve_forever()
