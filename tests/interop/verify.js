// Verifies one captured webhook request with the public Standard Webhooks library.
// Usage: node verify.js CAPTURE.json, where the file holds {"secret", "headers", "body"}.
// Exits 0 when the signature verifies, 1 (with the library's message) when it does not.
const fs = require("fs");
const { Webhook } = require("standardwebhooks");

const capture = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
try {
  const secret = capture.secret.replace(/^whsec_/, "");
  const payload = new Webhook(secret).verify(capture.body, capture.headers);
  console.log("verified", payload.type);
} catch (e) {
  console.error("verification failed:", e.message);
  process.exit(1);
}
