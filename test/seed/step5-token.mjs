// The seed guide's Step 5 ("Generate Access Tokens"), unchanged except that
// the placeholders come from the environment:
//   "<YOUR_API_DOMAIN>" → process.env.API_DOMAIN (certbound's base URL)
//   "<CLIENT_ID>"       → process.env.CLIENT_ID
//   "<CLIENT_SECRET>"   → process.env.CLIENT_SECRET
// ---- seed code below ----
import fetch from "node-fetch";

const response = await fetch(`${process.env.API_DOMAIN}/auth/oauth/token`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({
    clientId: process.env.CLIENT_ID,
    clientSecret: process.env.CLIENT_SECRET,
    grantType: "client_credentials",
    scope: ["event.create"],
    audience: "event"
  })
});

const data = await response.json();
console.log(data.accessToken);
