// The seed guide's Step 2 ("Create OAuth2 Clients"), unchanged except that the
// two placeholders come from the environment:
//   '<CORE_API_ENDPOINT>' → process.env.CORE_API_ENDPOINT (certbound's base URL)
//   '<YOUR_API_KEY>'      → process.env.API_KEY (certbound's admin key, data-dir/admin.key)
// ---- seed code below ----
const BASE_URL = process.env.CORE_API_ENDPOINT;
const API_KEY = process.env.API_KEY;

const url = `${BASE_URL}/recipe/oauth/clients`;
const options = {
  method: 'POST',
  headers: {
    'api-key': API_KEY,
    'Content-Type': 'application/json; charset=utf-8',
  },
  body: JSON.stringify({
    clientName: "TaskService",
    grantTypes: ["client_credentials"],
    scope: "event.create",
    audience: ["event"],
  })
};

fetch(url, options)
  .then(response => response.json())
  .then(json => console.log(json))
  .catch(err => console.error(err));
