"""Rules of the formats area. Ids are permanent; add new ones, never renumber."""

from __future__ import annotations

from modelsieve.model import Confidence, Effect, Severity
from modelsieve.rules.base import Rule

# --- ONNX, GGUF, safetensors, other formats, text (ONX, GGF, SFT, FMT, TXT) ---------------------------------

ONNX_EXTERNAL_TRAVERSAL = Rule(
    id="ONX001",
    title="ONNX external data path escapes the model folder",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    effect=Effect.MALICIOUS,
    cwe=22,
    description=(
        "A tensor's external data `location` climbs out of the model folder with `..`. Loading the model reads "
        "(and a save may overwrite) a file elsewhere on the machine, e.g. ../../etc/passwd is returned as weights."
    ),
    remediation="Do not load the model; external data must live next to the .onnx file under a relative name.",
    references=(
        "https://nvd.nist.gov/vuln/detail/CVE-2022-25882",
        "https://nvd.nist.gov/vuln/detail/CVE-2024-27318",
    ),
    area="onnx",
)

ONNX_EXTERNAL_ABSOLUTE = Rule(
    id="ONX002",
    title="ONNX external data path is absolute or a special name",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=22,
    description=(
        "A tensor's external data `location` is an absolute path, a drive or UNC path, a home-relative path or a "
        "device name. Older onnx versions read whatever file it names when the model is loaded."
    ),
    remediation="Do not load the model until the location is a plain relative file name inside the model folder.",
    references=(
        "https://nvd.nist.gov/vuln/detail/CVE-2022-25882",
        "https://nvd.nist.gov/vuln/detail/CVE-2024-27318",
    ),
    area="onnx",
)

ONNX_CUSTOM_DOMAIN = Rule(
    id="ONX003",
    title="ONNX operator from a custom domain",
    severity=Severity.LOW,
    confidence=Confidence.HIGH,
    effect=Effect.NONE,
    cwe=None,
    description=(
        "A node uses an operator domain outside the standard ones (ai.onnx, ai.onnx.ml, com.microsoft ...). "
        "Running it needs a native custom-op library that the user registers; the model itself cannot supply it."
    ),
    remediation="Make sure you know which custom-op library the model expects and where it comes from.",
    area="onnx",
)

ONNX_PYTHON_OP = Rule(
    id="ONX004",
    title="ONNX node runs a Python function",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=94,
    description=(
        "A node is a Python operator (com.microsoft PythonOp, onnxruntime-extensions PyOp ...). When the runtime "
        "supports it, running the model calls the Python function the node names."
    ),
    remediation="Review the named Python function before running the model; prefer models without Python ops.",
    area="onnx",
)

ONNX_EXTERNAL_DATA = Rule(
    id="ONX005",
    title="ONNX model reads tensor data from a file beside it",
    severity=Severity.INFO,
    confidence=Confidence.HIGH,
    effect=Effect.NONE,
    cwe=None,
    description=(
        "A tensor's bytes live in an external data file inside the model folder. The file holds raw tensor data, "
        "not code; a folder scan labels it as this model's data instead of 'not analysed'."
    ),
    remediation="None needed.",
    area="onnx",
)

GGUF_TEMPLATE_EXECUTES = Rule(
    id="GGF001",
    title="Chat template runs code when rendered",
    severity=Severity.CRITICAL,
    confidence=Confidence.HIGH,
    effect=Effect.MALICIOUS,
    cwe=1336,
    description=(
        "A Jinja2 chat template (GGUF metadata or tokenizer_config.json) climbs from a template object to Python "
        "internals (__globals__, __builtins__ ...) and calls popen/system/eval/exec/import. Loaders that render "
        "templates outside a sandbox (llama-cpp-python before 0.2.72) run it as soon as a chat is formatted."
    ),
    remediation="Do not load the model with a chat template; report the repository.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2024-34359",),
    area="gguf",
)

GGUF_TEMPLATE_INTERNALS = Rule(
    id="GGF002",
    title="Chat template reaches Python internals",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=1336,
    description=(
        "The chat template accesses dunder attributes (__class__, __mro__, __subclasses__, __globals__ ...) or "
        "known escape gadgets (cycler, joiner, lipsum, namespace, self, config, request, url_for). Ordinary chat "
        "templates never do; this is the first step of a server-side template injection."
    ),
    remediation="Remove or replace the chat template before use; render templates only in a sandbox.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2024-34359",),
    area="gguf",
)

GGUF_TEMPLATE_SANDBOX = Rule(
    id="GGF003",
    title="Jinja sandbox refused the chat template",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=1336,
    description=(
        "Rendering the template in Jinja's ImmutableSandboxedEnvironment (in a separate, time- and memory-limited "
        "process) raised SecurityError: the template tries to reach something a chat template has no use for."
    ),
    remediation="Do not render the template outside a sandbox.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2024-34359",),
    area="gguf",
)

SAFETENSORS_HEADER_SIZE = Rule(
    id="SFT001",
    title="safetensors header length is out of bounds",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=400,
    description=(
        "The 8-byte header length is larger than the file or than the 100 MB the safetensors library accepts. "
        "Parsers that trust it allocate huge buffers (denial of service)."
    ),
    remediation="Obtain the file again from a trusted source.",
    area="safetensors",
)

SAFETENSORS_HEADER_INVALID = Rule(
    id="SFT002",
    title="safetensors header is not a valid JSON object",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=20,
    description="The header is not UTF-8, not JSON, not an object, or holds entries that are not tensor records.",
    remediation="Obtain the file again from a trusted source.",
    area="safetensors",
)

SAFETENSORS_DUPLICATE_KEY = Rule(
    id="SFT003",
    title="safetensors header has duplicate keys",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=436,
    description=(
        "The same key appears twice in the header. JSON parsers disagree on which one wins, so a scanner and the "
        "loader can see different tensors (parser differential)."
    ),
    remediation="Do not load; a writer never produces duplicate keys.",
    area="safetensors",
)

SAFETENSORS_BAD_TENSOR = Rule(
    id="SFT004",
    title="safetensors tensor record is inconsistent",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=20,
    description=(
        "A tensor has an unknown dtype, a malformed shape, or a byte range that does not match shape x dtype size."
    ),
    remediation="Obtain the file again from a trusted source.",
    area="safetensors",
)

SAFETENSORS_BAD_LAYOUT = Rule(
    id="SFT005",
    title="safetensors data offsets overlap, leave gaps or leave the file",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=20,
    description=(
        "Tensor byte ranges must tile the data region exactly. Overlaps, holes or ranges past the end of the file "
        "are rejected by the reference loader and can hide content between tensors."
    ),
    remediation="Obtain the file again from a trusted source.",
    area="safetensors",
)

SAFETENSORS_TRAILING_DATA = Rule(
    id="SFT006",
    title="Extra bytes after the safetensors data (polyglot)",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=434,
    description=(
        "Bytes follow the last tensor. safetensors ignores them, but another loader pointed at the same file may "
        "read them as a pickle or a zip archive (a polyglot file)."
    ),
    remediation="Do not load the file with anything but safetensors; strip the trailing data.",
    area="safetensors",
)

SAFETENSORS_BAD_METADATA = Rule(
    id="SFT007",
    title="safetensors __metadata__ holds non-string values",
    severity=Severity.LOW,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=20,
    description="The __metadata__ entry must map strings to strings; the reference loader rejects anything else.",
    remediation="Obtain the file again from a trusted source.",
    area="safetensors",
)

FORMAT_NOT_ANALYSED = Rule(
    id="FMT001",
    title="Model format recognised but not analysed",
    severity=Severity.INFO,
    confidence=Confidence.HIGH,
    effect=Effect.NOT_ANALYSED,
    cwe=None,
    description=(
        "The content is a known model format (XGBoost, LightGBM, CatBoost, CoreML, OpenVINO, PaddlePaddle ...) "
        "that modelsieve recognises but does not analyse in depth. It is reported, never called clean."
    ),
    remediation="Load it only with the framework's safe loader, from a source you trust.",
    area="formats",
)

FORMAT_EXECUTABLE_MODEL = Rule(
    id="FMT002",
    title="Model packaged as an executable",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=506,
    description=(
        "The file is a program (a llamafile / Actually Portable Executable) that carries model weights. Using it "
        "means running native code, which modelsieve does not analyse."
    ),
    remediation="Run it only if you trust its publisher; prefer the plain GGUF weights.",
    area="formats",
)

FORMAT_HANDLER_CODE = Rule(
    id="FMT003",
    title="Model archive ships Python code that the server runs",
    severity=Severity.LOW,
    confidence=Confidence.HIGH,
    effect=Effect.NONE,
    cwe=94,
    description=(
        "A TorchServe .mar archive names a handler (and may carry extra Python files); serving the model imports "
        "and runs that code. The code itself is scanned as Python source."
    ),
    remediation="Review the handler code before serving the archive.",
    area="formats",
)

TEXT_AUTO_MAP = Rule(
    id="TXT001",
    title="Config loads custom code with trust_remote_code",
    severity=Severity.LOW,
    confidence=Confidence.HIGH,
    effect=Effect.NONE,
    cwe=829,
    description=(
        "A Hugging Face config has `auto_map` entries: loading with trust_remote_code=True imports the named "
        "Python module from the repository and runs it (indirect loading). The module is scanned as Python source."
    ),
    remediation="Read the named module before passing trust_remote_code=True.",
    area="text",
)

TEXT_REMOTE_CODE = Rule(
    id="TXT002",
    title="Config loads code from another repository",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=829,
    description=(
        "An `auto_map` (or custom pipeline) entry names code in a different repository (`org/repo--module.Class`). "
        "With trust_remote_code=True that code is downloaded and run; it is not part of what was scanned and can "
        "change at any time."
    ),
    remediation="Scan the other repository too, and pin a revision; do not pass trust_remote_code=True blindly.",
    area="text",
)

TEXT_PYTHON_DANGEROUS_CALL = Rule(
    id="TXT003",
    title="Python source calls a dangerous function",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=78,
    description=(
        "Python code shipped with the model calls os.system, subprocess, eval/exec, pickle.loads, urllib ... "
        "(found by parsing, never by running). It runs when the model is loaded with trust_remote_code=True or the "
        "file is imported."
    ),
    remediation="Review the call and its arguments before running the code.",
    area="text",
)

TEXT_PYTHON_DANGEROUS_IMPORT = Rule(
    id="TXT004",
    title="Python source imports a module that runs commands or opens connections",
    severity=Severity.INFO,
    confidence=Confidence.MEDIUM,
    effect=Effect.NONE,
    cwe=None,
    description="Python code shipped with the model imports subprocess, socket, ctypes ... (a capability, not proof).",
    remediation="Check what the module is used for.",
    area="text",
)

TEXT_YAML_PYTHON_TAG = Rule(
    id="TXT005",
    title="YAML constructs Python objects",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=502,
    description=(
        "The YAML uses `!!python/object`, `!!python/name` or `!!python/module` tags. yaml.unsafe_load / "
        "yaml.load(Loader=Loader) imports and calls what they name; `apply:` of a dangerous callable is an attack."
    ),
    remediation="Load YAML only with yaml.safe_load.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2017-18342",),
    area="text",
)

TEXT_YAML_DANGEROUS_APPLY = Rule(
    id="TXT006",
    title="YAML calls a dangerous Python function",
    severity=Severity.CRITICAL,
    confidence=Confidence.HIGH,
    effect=Effect.MALICIOUS,
    cwe=502,
    description=(
        "A `!!python/object/apply:` (or `/new:`) tag names os.system, subprocess, eval, exec ...: loading the "
        "YAML with an unsafe loader calls it."
    ),
    remediation="Do not load the file; report the repository.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2017-18342",),
    area="text",
)

TEXT_OTHER_REPO = Rule(
    id="TXT007",
    title="Config loads another repository",
    severity=Severity.INFO,
    confidence=Confidence.MEDIUM,
    effect=Effect.NONE,
    cwe=829,
    description=(
        "A config names another Hub repository that loading pulls in (e.g. an adapter's base_model_name_or_path). "
        "Its files are loaded too and were not part of this scan."
    ),
    remediation="Scan the referenced repository as well, and pin its revision.",
    area="text",
)

_OWN_RULES: tuple[Rule, ...] = (
    ONNX_EXTERNAL_TRAVERSAL,
    ONNX_EXTERNAL_ABSOLUTE,
    ONNX_CUSTOM_DOMAIN,
    ONNX_PYTHON_OP,
    ONNX_EXTERNAL_DATA,
    GGUF_TEMPLATE_EXECUTES,
    GGUF_TEMPLATE_INTERNALS,
    GGUF_TEMPLATE_SANDBOX,
    SAFETENSORS_HEADER_SIZE,
    SAFETENSORS_HEADER_INVALID,
    SAFETENSORS_DUPLICATE_KEY,
    SAFETENSORS_BAD_TENSOR,
    SAFETENSORS_BAD_LAYOUT,
    SAFETENSORS_TRAILING_DATA,
    SAFETENSORS_BAD_METADATA,
    FORMAT_NOT_ANALYSED,
    FORMAT_EXECUTABLE_MODEL,
    FORMAT_HANDLER_CODE,
    TEXT_AUTO_MAP,
    TEXT_REMOTE_CODE,
    TEXT_PYTHON_DANGEROUS_CALL,
    TEXT_PYTHON_DANGEROUS_IMPORT,
    TEXT_YAML_PYTHON_TAG,
    TEXT_YAML_DANGEROUS_APPLY,
    TEXT_OTHER_REPO,
)

# --- Keras, TensorFlow, TFLite (KER, TF, TFL) -----------------------------------------------------------------

KERAS_LAMBDA_DANGEROUS_CALL = Rule(
    id="KER001",
    title="Keras Lambda layer runs a dangerous function when the model is loaded",
    severity=Severity.CRITICAL,
    confidence=Confidence.HIGH,
    effect=Effect.MALICIOUS,
    cwe=94,
    description=(
        "A Lambda layer stores marshalled Python bytecode. Disassembling it (without running it) shows a call to "
        "a function that runs commands, executes code, touches files or the network (os.system, subprocess, "
        "eval/exec, open ...). Keras rebuilds and calls the function while loading the model (CVE-2024-3660)."
    ),
    remediation="Do not load the model. If you need the weights, read them with h5py without loading the model.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2024-3660",),
    area="keras",
)

KERAS_LAMBDA_DANGEROUS_REFERENCE = Rule(
    id="KER002",
    title="Keras Lambda layer references a dangerous module or function",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=94,
    description=(
        "The Lambda layer's bytecode imports or names a dangerous module or function, but no call could be "
        "reconstructed (bytecode of another Python version, or the value is only passed along)."
    ),
    remediation="Review the Lambda's code before loading; load only in a sandbox.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2024-3660",),
    area="keras",
)

KERAS_LAMBDA_CODE = Rule(
    id="KER003",
    title="Keras Lambda layer contains Python code that runs on load",
    severity=Severity.LOW,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=94,
    description=(
        "A Lambda layer carries marshalled Python bytecode (or names a Python function). Keras runs it when the "
        "model is loaded with safe_mode=False or from a legacy .h5 file. No dangerous call was seen, but the "
        "code is arbitrary Python."
    ),
    remediation="Prefer models without Lambda layers; review the disassembly in the evidence before loading.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2024-3660",),
    area="keras",
)

KERAS_DANGEROUS_OBJECT = Rule(
    id="KER004",
    title="Keras config makes Keras import a dangerous module or function",
    severity=Severity.CRITICAL,
    confidence=Confidence.HIGH,
    effect=Effect.MALICIOUS,
    cwe=502,
    description=(
        "A `module`/`class_name`/`registered_name` (or Lambda `module`/`function`) reference in the model config "
        "points at os, subprocess, builtins.exec ... Keras imports the module and calls the object while "
        "deserialising, even in safe mode before 3.8 (CVE-2025-1550)."
    ),
    remediation="Do not load the model; report the repository.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2025-1550",),
    area="keras",
)

KERAS_CUSTOM_OBJECT = Rule(
    id="KER005",
    title="Keras config needs code from a module outside Keras",
    severity=Severity.LOW,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=829,
    description=(
        "A `module` reference names a package that is neither Keras nor a known layer library. Loading imports "
        "that module and runs its code; the file itself is not proven malicious."
    ),
    remediation="Load only with the trusted source of that package installed, or use custom_objects explicitly.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2025-1550",),
    area="keras",
)

KERAS_SAFE_MODE_GADGET = Rule(
    id="KER006",
    title="Keras config calls a Keras function that downloads files, loads files or disables safe mode",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    effect=Effect.MALICIOUS,
    cwe=502,
    description=(
        "The config references a function inside an allowed Keras module that has side effects when "
        "deserialised: keras.utils.get_file (download to a chosen path), file_utils helpers, nested load_model, "
        "or enable_unsafe_deserialization, which turns safe mode off for what follows "
        "(CVE-2025-8747, CVE-2025-9905, CVE-2025-9906)."
    ),
    remediation="Do not load the model; report the repository.",
    references=(
        "https://nvd.nist.gov/vuln/detail/CVE-2025-8747",
        "https://nvd.nist.gov/vuln/detail/CVE-2025-9905",
        "https://nvd.nist.gov/vuln/detail/CVE-2025-9906",
    ),
    area="keras",
)

KERAS_EMBEDDED_PICKLE = Rule(
    id="KER007",
    title="Keras layer config embeds a pickle that loading deserialises",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=502,
    description=(
        "A layer's config carries a serialized Python object that Keras unpickles while building the model: "
        "TorchModuleWrapper stores base64 of a torch.save buffer in `module` and its from_config passes it to "
        "torch.load(weights_only=False). Keras refuses it unless the model is loaded with safe_mode=False (older "
        "Keras versions do not check), and then any code in that pickle runs. The embedded pickle is analysed "
        "as a nested member; this finding stands even when nothing dangerous was seen in it."
    ),
    remediation=(
        "Load only with safe_mode left on, or rebuild the torch module from code and load its weights from "
        "safetensors; review the nested member's findings."
    ),
    references=("https://github.com/keras-team/keras/blob/master/keras/src/utils/torch_utils.py",),
    area="keras",
)

HDF5_REFERENCE_OUTSIDE = Rule(
    id="HDF001",
    title="HDF5 object reads a file outside the model's folder",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=22,
    description=(
        "An external link, a dataset's external raw storage or a virtual dataset's source names an absolute path, "
        "a home-relative path, a device name or a path that climbs out with `..`. When a loader (Keras reading "
        "weights through h5py) touches that object, the HDF5 library opens and reads the named file: a local "
        "file such as /etc/passwd or a private key comes back as weights, to be re-saved or uploaded later. "
        "Keras never writes such objects."
    ),
    remediation="Do not load the file; weights must be stored inside the HDF5 file itself.",
    references=(
        "https://docs.h5py.org/en/stable/high/group.html#external-links",
        "https://docs.h5py.org/en/stable/high/dataset.html#external-storage",
        "https://docs.h5py.org/en/stable/vds.html",
    ),
    area="keras",
)

HDF5_REFERENCE = Rule(
    id="HDF002",
    title="HDF5 object reads another file next to the model",
    severity=Severity.LOW,
    confidence=Confidence.HIGH,
    effect=Effect.NONE,
    cwe=None,
    description=(
        "An external link, external raw storage or virtual dataset source names a relative file: using the object "
        "reads that file (relative to the working directory or the HDF5 file, depending on the kind). Keras never "
        "writes such objects, so the file was made or edited by other tools."
    ),
    remediation="Check that the named file belongs to the model and holds what you expect.",
    references=("https://docs.h5py.org/en/stable/high/group.html#external-links",),
    area="keras",
)

TF_PYTHON_OP = Rule(
    id="TF001",
    title="TensorFlow graph calls a Python function (PyFunc)",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=94,
    description=(
        "A node is PyFunc, PyFuncStateless or EagerPyFunc: running the graph calls a Python function registered "
        "in the loading process. The function is not stored in the file, but the graph decides when it runs."
    ),
    remediation="Review which Python function the model expects before serving it.",
    area="tensorflow",
)

TF_WRITES_FILE = Rule(
    id="TF002",
    title="TensorFlow graph writes files",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    effect=Effect.MALICIOUS,
    cwe=73,
    description=(
        "A node writes to the file system when the graph runs (WriteFile, PrintV2 to a file:// stream). "
        "Trained models have no reason to write files; this is a known way to drop files on a serving host."
    ),
    remediation="Do not run the model; report the repository.",
    area="tensorflow",
)

TF_READS_FILE = Rule(
    id="TF003",
    title="TensorFlow graph reads or lists files",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=73,
    description=(
        "A node reads or lists files when the graph runs (ReadFile, MatchingFiles, ImmutableConst, file "
        "readers). A model can return the content of local files (e.g. credentials) as its output."
    ),
    remediation="Review the node and its file-name inputs before serving the model.",
    area="tensorflow",
)

TF_CHECKPOINT_OP = Rule(
    id="TF004",
    title="TensorFlow checkpoint save/restore op outside the saver",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=73,
    description=(
        "A Save/Restore/MergeV2Checkpoints node sits outside the standard saver graph and checkpoint functions, "
        "so running the model reads or writes tensors at paths the graph chooses."
    ),
    remediation="Review the node's file-name inputs before serving the model.",
    area="tensorflow",
)

TF_PRINT = Rule(
    id="TF005",
    title="TensorFlow graph prints",
    severity=Severity.INFO,
    confidence=Confidence.HIGH,
    effect=Effect.NONE,
    cwe=None,
    description="A PrintV2/Print node writes values to the process's standard streams when the graph runs.",
    remediation="Nothing to do unless the output may leak data in your serving setup.",
    area="tensorflow",
)

TFLITE_CUSTOM_OP = Rule(
    id="TFL001",
    title="TFLite model uses a custom operator",
    severity=Severity.LOW,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=829,
    description=(
        "An operator code is CUSTOM with a name that the standard TFLite op resolvers do not provide. Running the "
        "model needs native code registered by the loader under that name."
    ),
    remediation="Make sure you know which custom-op library implements it and where that library comes from.",
    area="tflite",
)

TFLITE_FLEX_FILE_OP = Rule(
    id="TFL002",
    title="TFLite model runs a TensorFlow op that touches files or Python (Flex delegate)",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=73,
    description=(
        "A custom operator named Flex<Op> runs a full TensorFlow op through the Flex (select TF ops) delegate; "
        "the op reads or writes files or calls Python (FlexWriteFile, FlexReadFile, FlexPyFunc ...)."
    ),
    remediation="Review the op before running the model with the Flex delegate.",
    area="tflite",
)

_KERAS_TF_RULES: tuple[Rule, ...] = (
    KERAS_LAMBDA_DANGEROUS_CALL,
    KERAS_LAMBDA_DANGEROUS_REFERENCE,
    KERAS_LAMBDA_CODE,
    KERAS_DANGEROUS_OBJECT,
    KERAS_CUSTOM_OBJECT,
    KERAS_SAFE_MODE_GADGET,
    KERAS_EMBEDDED_PICKLE,
    HDF5_REFERENCE_OUTSIDE,
    HDF5_REFERENCE,
    TF_PYTHON_OP,
    TF_WRITES_FILE,
    TF_READS_FILE,
    TF_CHECKPOINT_OP,
    TF_PRINT,
    TFLITE_CUSTOM_OP,
    TFLITE_FLEX_FILE_OP,
)

RULES: tuple[Rule, ...] = (*_OWN_RULES, *_KERAS_TF_RULES)
