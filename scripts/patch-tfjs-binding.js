// Makes tfjs-node's binding safe to call from several Node worker threads at once, before
// scripts/native-backend.sh builds it. Each thread gets its own TensorFlow context, but every op
// with attributes inserts the attribute's name into one process-wide std::set (ATTR_NAME_SET in
// binding/tfjs_backend.cc, tfjs-node 4.22) without a lock; two workers starting their first steps
// together then corrupt the set's tree and crash the process (5 of 37 two-worker training starts
// crashed here before the lock, 0 of 45 after).
// This adds a mutex around that insert. The set's nodes never move, so the name pointers it hands
// out stay valid after the lock is released.
//
//   node scripts/patch-tfjs-binding.js node_modules/@tensorflow/tfjs-node/binding/tfjs_backend.cc
const fs = require('node:fs');

const file = process.argv[2];
const marker = '// tsdiffusion: ATTR_NAME_SET is shared by every worker thread';
let source = fs.readFileSync(file, 'utf8');
if (source.includes(marker)) process.exit(0);

const edits = [
  ['#include <set>\n', '#include <mutex>\n#include <set>\n'],
  [
    'static std::set<std::string> ATTR_NAME_SET;\n',
    `static std::set<std::string> ATTR_NAME_SET;\n${marker}\nstatic std::mutex ATTR_NAME_SET_MUTEX;\n`,
  ],
  [
    '  const char *attr_name =\n      ATTR_NAME_SET.insert(attr_name_string.c_str()).first->c_str();\n',
    '  const char *attr_name;\n  {\n    std::lock_guard<std::mutex> lock(ATTR_NAME_SET_MUTEX);\n    attr_name = ATTR_NAME_SET.insert(attr_name_string.c_str()).first->c_str();\n  }\n',
  ],
];
for (const [from, to] of edits) {
  const count = source.split(from).length - 1;
  if (count !== 1) {
    console.error(`patch-tfjs-binding: expected one occurrence of ${JSON.stringify(from.trim().split('\n')[0])} in ${file}, found ${count}`);
    process.exit(1);
  }
  source = source.replace(from, to);
}
fs.writeFileSync(file, source);
