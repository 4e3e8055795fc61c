// Runs a github-script step's script as actions/github-script would (an async
// function of github, context, core, require, ...), against a fake client:
// every REST call is appended to $WORLD/calls.jsonl with its parameters, and
// answered from $WORLD/github.json ({"issues.listComments": [...], ...}; a list
// call answers [] and any other call {} when the file has nothing for it).
'use strict';

const fs = require('fs');
const path = require('path');

const world = process.env.WORLD;
const callsFile = path.join(world, 'calls.jsonl');
const answersFile = path.join(world, 'github.json');
const answers = fs.existsSync(answersFile) ? JSON.parse(fs.readFileSync(answersFile, 'utf8')) : {};

function record(entry) {
  const line = {
    kind: 'github-script',
    job: process.env.GITHUB_JOB,
    workflow: process.env.GITHUB_WORKFLOW,
    token: Boolean(process.env.INPUT_GITHUB_TOKEN),
    ...entry,
  };
  fs.appendFileSync(callsFile, JSON.stringify(line) + '\n');
}

function answer(method) {
  if (Object.prototype.hasOwnProperty.call(answers, method)) return answers[method];
  return /\.list/.test(method) ? [] : {};
}

// github.rest.<namespace>.<method>(params) -> { data }
const rest = new Proxy({}, {
  get(_, namespace) {
    return new Proxy({}, {
      get(__, name) {
        const method = `${String(namespace)}.${String(name)}`;
        const call = async (params = {}) => {
          record({ method, params });
          return { status: 200, data: answer(method) };
        };
        call.endpointName = method;
        return call;
      },
    });
  },
});

const github = {
  rest,
  // paginate(github.rest.x.listY, params) -> every item of every page: one call here.
  paginate: async (endpoint, params = {}) => {
    const method = endpoint.endpointName;
    record({ method, params, paginate: true });
    return answer(method);
  },
  request: async (route, params = {}) => {
    record({ method: `request ${route}`, params });
    return { status: 200, data: answer(route) };
  },
  graphql: async (query, params = {}) => {
    record({ method: 'graphql', params: { query, ...params } });
    return answer('graphql');
  },
};

const payload = process.env.GITHUB_EVENT_PATH && fs.existsSync(process.env.GITHUB_EVENT_PATH)
  ? JSON.parse(fs.readFileSync(process.env.GITHUB_EVENT_PATH, 'utf8'))
  : {};
const [owner, repo] = (process.env.GITHUB_REPOSITORY || '/').split('/');
const context = {
  payload,
  eventName: process.env.GITHUB_EVENT_NAME,
  sha: process.env.GITHUB_SHA,
  ref: process.env.GITHUB_REF,
  workflow: process.env.GITHUB_WORKFLOW,
  action: process.env.GITHUB_ACTION,
  actor: process.env.GITHUB_ACTOR,
  job: process.env.GITHUB_JOB,
  runNumber: Number(process.env.GITHUB_RUN_NUMBER),
  runId: Number(process.env.GITHUB_RUN_ID),
  apiUrl: process.env.GITHUB_API_URL,
  serverUrl: process.env.GITHUB_SERVER_URL,
  graphqlUrl: process.env.GITHUB_GRAPHQL_URL,
  repo: { owner, repo },
  get issue() {
    return { owner, repo, number: (payload.issue || payload.pull_request || payload).number };
  },
};

let failed = false;
const summaryParts = [];
const core = {
  debug: (m) => console.log(`::debug::${m}`),
  info: (m) => console.log(m),
  notice: (m) => console.log(`::notice::${m}`),
  warning: (m) => console.log(`::warning::${m}`),
  error: (m) => console.log(`::error::${m}`),
  setFailed: (m) => { failed = true; console.log(`::error::${m}`); },
  setOutput: (name, value) => {
    fs.appendFileSync(process.env.GITHUB_OUTPUT, `${name}=${value}\n`);
  },
  summary: {
    addRaw(text) { summaryParts.push(String(text)); return this; },
    async write() {
      fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, summaryParts.splice(0).join(''));
      return this;
    },
  },
};

(async () => {
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  const run = new AsyncFunction(
    'require', 'github', 'context', 'core', 'glob', 'io', 'exec', 'fetch', process.env.INPUT_SCRIPT,
  );
  const result = await run(require, github, context, core, undefined, undefined, undefined, fetch);
  if (result !== undefined) {
    const encoded = process.env.INPUT_RESULT_ENCODING === 'string'
      ? String(result) : JSON.stringify(result);
    fs.appendFileSync(process.env.GITHUB_OUTPUT, `result=${encoded}\n`);
  }
  if (failed) process.exit(1);
})().catch((error) => {
  console.log(`::error::Unhandled error: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
