"""modellens name: real model names read the way their model cards describe them.

Every expected reading below was written by hand from the model's card on the Hugging Face or
ModelScope hub (parameter counts, MoE totals, release months), not from the parser's output.
Counts are written as on the cards ("46.7B") and converted here, independently of the parser.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from modellens.names import SCHEMA, TRAINING_STAGES, VARIANTS, NameInfo, parse_name

_UNIT = {"K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}


def n(text: str | None) -> int | None:
    """'46.7B' -> 46700000000, written out here so the test does not trust the parser."""
    if text is None:
        return None
    return int(Decimal(text[:-1]) * _UNIT[text[-1]])


def R(name, family, total, active, variant, stage, quant=None, release=None, **extra):
    return pytest.param(
        name,
        dict(family=family, total_parameters=n(total), active_parameters=n(active), variant=variant,
             training_stage=stage, quantization=quant, release=release, **extra),
        id=name,
    )


PRE, SFT, PREF, DIST, UNK = "pretrain", "sft", "preference", "distill", "unknown"
VL = "vision-language"

CASES = [
    # ---- Qwen (HF "Qwen/…", ModelScope "qwen/…")
    R("Qwen/Qwen3-235B-A22B-Instruct-2507", "Qwen", "235B", "22B", "instruct", PREF, None, "2025-07",
      version="3", moe=True, experts=128, org="Qwen"),
    R("Qwen/Qwen3-235B-A22B-Thinking-2507", "Qwen", "235B", "22B", "reasoning", PREF, None, "2025-07", experts=128),
    R("Qwen/Qwen3-30B-A3B", "Qwen", "30.5B", "3.3B", "reasoning", PREF, experts=128, moe=True),
    R("Qwen/Qwen3-30B-A3B-Instruct-2507", "Qwen", "30.5B", "3.3B", "instruct", PREF, None, "2025-07"),
    R("Qwen/Qwen3-4B-Instruct-2507", "Qwen", "4B", None, "instruct", PREF, None, "2025-07", moe=False),
    R("Qwen/Qwen3-8B", "Qwen", "8B", None, "reasoning", PREF, version="3"),
    R("Qwen/Qwen3-8B-Base", "Qwen", "8B", None, "base", PRE),
    R("Qwen/Qwen3-0.6B", "Qwen", "0.6B", None, "reasoning", PREF),
    R("Qwen/Qwen3-8B-FP8", "Qwen", "8B", None, "reasoning", PREF, "FP8"),
    R("Qwen/Qwen3-Coder-480B-A35B-Instruct", "Qwen", "480B", "35B", "code", PREF, experts=160),
    R("Qwen/Qwen3-Coder-30B-A3B-Instruct", "Qwen", "30.5B", "3.3B", "code", PREF, experts=128),
    R("Qwen/Qwen3-Next-80B-A3B-Instruct", "Qwen", "80B", "3B", "instruct", PREF, experts=512),
    R("Qwen/Qwen3-Embedding-0.6B", "Qwen", "0.6B", None, "embedding", UNK),
    R("Qwen/Qwen3-Reranker-4B", "Qwen", "4B", None, "reranker", UNK),
    R("Qwen/Qwen2.5-7B-Instruct", "Qwen", "7B", None, "instruct", PREF, version="2.5", modality="text"),
    R("Qwen/Qwen2.5-7B", "Qwen", "7B", None, "base", PRE),
    R("Qwen/Qwen2.5-72B-Instruct-GPTQ-Int4", "Qwen", "72B", None, "instruct", PREF, "GPTQ-Int4"),
    R("Qwen/Qwen2.5-0.5B-Instruct-GPTQ-Int8", "Qwen", "0.5B", None, "instruct", PREF, "GPTQ-Int8"),
    R("Qwen/Qwen2.5-7B-Instruct-AWQ", "Qwen", "7B", None, "instruct", PREF, "AWQ"),
    R("Qwen/Qwen2.5-14B-Instruct-GGUF", "Qwen", "14B", None, "instruct", PREF, file_format="gguf"),
    R("Qwen/Qwen2.5-7B-Instruct-1M", "Qwen", "7B", None, "instruct", PREF, context_length=1048576),
    R("Qwen/Qwen2.5-Coder-32B-Instruct", "Qwen", "32B", None, "code", PREF),
    R("Qwen/Qwen2.5-Coder-7B", "Qwen", "7B", None, "code", PRE),
    R("Qwen/Qwen2.5-Math-7B-Instruct", "Qwen", "7B", None, "math", PREF),
    R("Qwen/Qwen2.5-VL-72B-Instruct", "Qwen", "72B", None, "vision", PREF, modality=VL),
    R("Qwen/Qwen2.5-Omni-7B", "Qwen", "7B", None, "other", UNK, modality="omni"),
    R("Qwen/Qwen2-VL-7B-Instruct", "Qwen", "7B", None, "vision", PREF, version="2"),
    R("Qwen/Qwen2-57B-A14B-Instruct", "Qwen", "57B", "14B", "instruct", PREF, experts=64),
    R("Qwen/Qwen2-Audio-7B-Instruct", "Qwen", "7B", None, "other", PREF, modality="audio"),
    R("Qwen/Qwen1.5-MoE-A2.7B", "Qwen", "14.3B", "2.7B", "base", PRE, experts=60, version="1.5"),
    R("Qwen/Qwen1.5-72B-Chat", "Qwen", "72B", None, "chat", PREF, version="1.5"),
    R("Qwen/Qwen-7B-Chat", "Qwen", "7B", None, "chat", PREF, version=None),
    R("Qwen/QwQ-32B", "QwQ", "32B", None, "reasoning", PREF, org="Qwen"),
    R("Qwen/QwQ-32B-Preview", "QwQ", "32B", None, "reasoning", PREF),
    R("qwen/Qwen2.5-7B-Instruct", "Qwen", "7B", None, "instruct", PREF, org="qwen"),  # ModelScope
    R("qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf", "Qwen", "7B", None, "instruct", PREF, "Q4_K_M",
      file_format="gguf"),
    R("Qwen2.5-7B-Instruct-IQ4_XS.gguf", "Qwen", "7B", None, "instruct", PREF, "IQ4_XS", file_format="gguf"),
    R("Qwen3-30B-A3B-Q8_0.gguf", "Qwen", "30.5B", "3.3B", "reasoning", PREF, "Q8_0", file_format="gguf"),
    R("mlx-community/Qwen2.5-7B-Instruct-4bit", "Qwen", "7B", None, "instruct", PREF, "4bit", file_format="mlx"),
    R("bartowski/Qwen2.5-Coder-32B-Instruct-GGUF", "Qwen", "32B", None, "code", PREF, file_format="gguf",
      org="bartowski"),
    # ---- Llama
    R("meta-llama/Llama-2-7b-hf", "Llama", "7B", None, "base", PRE, version="2", file_format="hf-transformers"),
    R("meta-llama/Llama-2-7b-chat-hf", "Llama", "7B", None, "chat", PREF, version="2"),
    R("meta-llama/Llama-2-70b-chat-hf", "Llama", "70B", None, "chat", PREF),
    R("meta-llama/Meta-Llama-3-8B", "Llama", "8B", None, "base", PRE, version="3"),
    R("meta-llama/Meta-Llama-3-8B-Instruct", "Llama", "8B", None, "instruct", PREF, version="3"),
    R("meta-llama/Llama-3.1-8B-Instruct", "Llama", "8B", None, "instruct", PREF, version="3.1"),
    R("meta-llama/Llama-3.1-405B", "Llama", "405B", None, "base", PRE),
    R("meta-llama/Llama-3.1-405B-Instruct-FP8", "Llama", "405B", None, "instruct", PREF, "FP8"),
    R("meta-llama/Llama-3.2-1B", "Llama", "1B", None, "base", PRE, version="3.2"),
    R("meta-llama/Llama-3.2-3B-Instruct", "Llama", "3B", None, "instruct", PREF),
    R("meta-llama/Llama-3.2-11B-Vision-Instruct", "Llama", "11B", None, "vision", PREF, modality=VL),
    R("meta-llama/Llama-3.3-70B-Instruct", "Llama", "70B", None, "instruct", PREF, version="3.3"),
    R("meta-llama/Llama-4-Scout-17B-16E-Instruct", "Llama", "109B", "17B", "instruct", PREF,
      experts=16, moe=True, version="4"),
    R("meta-llama/Llama-4-Scout-17B-16E", "Llama", "109B", "17B", "base", PRE, experts=16),
    R("meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8", "Llama", "400B", "17B", "instruct", PREF, "FP8",
      experts=128),
    R("meta-llama/Llama-Guard-3-8B", "Llama", "8B", None, "other", SFT),
    R("meta-llama/CodeLlama-7b-hf", "Code Llama", "7B", None, "code", PRE),
    R("codellama/CodeLlama-34b-Instruct-hf", "Code Llama", "34B", None, "code", PREF),
    R("codellama/CodeLlama-7b-Python-hf", "Code Llama", "7B", None, "code", PRE),
    R("TinyLlama/TinyLlama-1.1B-Chat-v1.0", "TinyLlama", "1.1B", None, "chat", PREF, version="1.0"),
    R("bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", "Llama", "8B", None, "instruct", PREF, file_format="gguf",
      org="bartowski"),
    R("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "Llama", "8B", None, "instruct", PREF, "Q4_K_M", version="3.1"),
    R("Llama-3.2-3B-Instruct-Q4_K_M.gguf", "Llama", "3B", None, "instruct", PREF, "Q4_K_M",
      version="3.2", file_format="gguf"),
    R("Llama-3.2-1B-Instruct-f16.gguf", "Llama", "1B", None, "instruct", PREF, "F16"),
    R("Llama-3.3-70B-Instruct-Q4_K_M-00001-of-00002.gguf", "Llama", "70B", None, "instruct", PREF, "Q4_K_M"),
    R("Meta-Llama-3-8B-Instruct.Q8_0.gguf", "Llama", "8B", None, "instruct", PREF, "Q8_0"),
    R("llama-2-7b-chat.Q4_K_M.gguf", "Llama", "7B", None, "chat", PREF, "Q4_K_M", version="2"),
    R("TheBloke/Llama-2-7B-Chat-GPTQ", "Llama", "7B", None, "chat", PREF, "GPTQ", org="TheBloke"),
    R("TheBloke/Llama-2-13B-chat-AWQ", "Llama", "13B", None, "chat", PREF, "AWQ"),
    R("TheBloke/Llama-2-7B-Chat-GGUF", "Llama", "7B", None, "chat", PREF, file_format="gguf"),
    R("unsloth/Llama-3.2-3B-Instruct-bnb-4bit", "Llama", "3B", None, "instruct", PREF, "bnb-4bit"),
    R("mlx-community/Llama-3.2-3B-Instruct-4bit", "Llama", "3B", None, "instruct", PREF, "4bit", file_format="mlx"),
    R("neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8", "Llama", "8B", None, "instruct", PREF, "FP8"),
    R("RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8-dynamic", "Llama", "8B", None, "instruct", PREF, "FP8-Dynamic"),
    R("neuralmagic/Meta-Llama-3.1-8B-Instruct-quantized.w4a16", "Llama", "8B", None, "instruct", PREF, "W4A16"),
    R("allenai/Llama-3.1-Tulu-3-8B-DPO", "Llama", "8B", None, "instruct", PREF),
    R("allenai/Llama-3.1-Tulu-3-8B-SFT", "Llama", "8B", None, "instruct", SFT),
    R("nvidia/Llama-3.1-Nemotron-70B-Instruct-HF", "Llama", "70B", None, "instruct", PREF, version="3.1"),
    R("LLM-Research/Meta-Llama-3-8B-Instruct", "Llama", "8B", None, "instruct", PREF, org="LLM-Research"),
    R("modelscope/Llama-2-7b-chat-ms", "Llama", "7B", None, "chat", PREF),
    # ---- Mistral AI
    R("mistralai/Mistral-7B-v0.1", "Mistral", "7B", None, "base", PRE, version="0.1"),
    R("mistralai/Mistral-7B-Instruct-v0.2", "Mistral", "7B", None, "instruct", PREF, version="0.2"),
    R("mistralai/Mistral-7B-Instruct-v0.3", "Mistral", "7B", None, "instruct", PREF, version="0.3"),
    R("mistralai/Mixtral-8x7B-v0.1", "Mixtral", "46.7B", "12.9B", "base", PRE, experts=8, moe=True),
    R("mistralai/Mixtral-8x7B-Instruct-v0.1", "Mixtral", "46.7B", "12.9B", "instruct", PREF, experts=8),
    R("mistralai/Mixtral-8x22B-Instruct-v0.1", "Mixtral", "141B", "39B", "instruct", PREF, experts=8),
    R("mistralai/Mistral-Nemo-Instruct-2407", "Mistral", "12B", None, "instruct", PREF, None, "2024-07"),
    R("mistralai/Mistral-Nemo-Base-2407", "Mistral", "12B", None, "base", PRE, None, "2024-07"),
    R("mistralai/Mistral-Large-Instruct-2407", "Mistral", "123B", None, "instruct", PREF, None, "2024-07"),
    R("mistralai/Mistral-Large-Instruct-2411", "Mistral", "123B", None, "instruct", PREF, None, "2024-11"),
    R("mistralai/Mistral-Small-24B-Instruct-2501", "Mistral", "24B", None, "instruct", PREF, None, "2025-01"),
    R("mistralai/Mistral-Small-3.1-24B-Instruct-2503", "Mistral", "24B", None, "instruct", PREF, None, "2025-03",
      version="3.1"),
    R("Mistral-Small-24B-Instruct-2501-BF16.gguf", "Mistral", "24B", None, "instruct", PREF, "BF16", "2025-01"),
    R("mistralai/Ministral-8B-Instruct-2410", "Ministral", "8B", None, "instruct", PREF, None, "2024-10"),
    R("mistralai/Codestral-22B-v0.1", "Codestral", "22B", None, "code", UNK, version="0.1"),
    R("mistralai/Pixtral-12B-2409", "Pixtral", "12B", None, "vision", UNK, None, "2024-09", modality=VL),
    R("mistralai/Magistral-Small-2506", "Magistral", None, None, "reasoning", PREF, None, "2025-06"),
    R("mistralai/Devstral-Small-2505", "Devstral", None, None, "code", UNK, None, "2025-05"),
    R("TheBloke/Mistral-7B-Instruct-v0.2-GGUF", "Mistral", "7B", None, "instruct", PREF, file_format="gguf"),
    R("mistral-7b-instruct-v0.2.Q4_K_M.gguf", "Mistral", "7B", None, "instruct", PREF, "Q4_K_M", version="0.2"),
    R("LoneStriker/Mixtral-8x7B-Instruct-v0.1-4.0bpw-h6-exl2", "Mixtral", "46.7B", "12.9B", "instruct", PREF,
      "4.0bpw EXL2", file_format="exl2"),
    R("NousResearch/Nous-Hermes-2-Mixtral-8x7B-DPO", "Mixtral", "46.7B", "12.9B", "instruct", PREF),
    R("teknium/OpenHermes-2.5-Mistral-7B", "Mistral", "7B", None, None, UNK, version=None),
    R("HuggingFaceH4/zephyr-7b-beta", "Zephyr", "7B", None, "chat", PREF),
    R("HuggingFaceH4/mistral-7b-sft-beta", "Mistral", "7B", None, "instruct", SFT),
    # ---- Gemma
    R("google/gemma-7b", "Gemma", "7B", None, "base", PRE, version=None),
    R("google/gemma-7b-it", "Gemma", "7B", None, "instruct", PREF),
    R("google/gemma-2b-it", "Gemma", "2B", None, "instruct", PREF, version=None),
    R("google/gemma-1.1-7b-it", "Gemma", "7B", None, "instruct", PREF, version="1.1"),
    R("google/gemma-2-9b-it", "Gemma", "9B", None, "instruct", PREF, version="2"),
    R("google/gemma-2-27b", "Gemma", "27B", None, "base", PRE),
    R("google/gemma-3-27b-it", "Gemma", "27B", None, "instruct", PREF, version="3"),
    R("google/gemma-3-4b-pt", "Gemma", "4B", None, "base", PRE),
    R("google/gemma-3-1b-it", "Gemma", "1B", None, "instruct", PREF),
    R("google/gemma-3n-E4B-it", "Gemma", "8B", None, "instruct", PREF, version="3n"),
    R("google/codegemma-7b-it", "CodeGemma", "7B", None, "code", PREF),
    R("google/paligemma-3b-pt-224", "PaliGemma", "3B", None, "vision", PRE, modality=VL),
    R("gemma-3-27b-it-Q4_K_M.gguf", "Gemma", "27B", None, "instruct", PREF, "Q4_K_M"),
    R("unsloth/gemma-3-27b-it-GGUF", "Gemma", "27B", None, "instruct", PREF, file_format="gguf"),
    R("LLM-Research/gemma-2-9b-it", "Gemma", "9B", None, "instruct", PREF),
    # ---- Phi
    R("microsoft/phi-1_5", "Phi", "1.3B", None, "base", PRE, version="1.5"),
    R("microsoft/phi-2", "Phi", "2.7B", None, "base", PRE, version="2"),
    R("microsoft/Phi-3-mini-4k-instruct", "Phi", "3.8B", None, "instruct", PREF, context_length=4096),
    R("microsoft/Phi-3-mini-128k-instruct", "Phi", "3.8B", None, "instruct", PREF, context_length=131072),
    R("microsoft/Phi-3-small-8k-instruct", "Phi", "7B", None, "instruct", PREF, context_length=8192),
    R("microsoft/Phi-3-medium-128k-instruct", "Phi", "14B", None, "instruct", PREF),
    R("microsoft/Phi-3.5-mini-instruct", "Phi", "3.8B", None, "instruct", PREF, version="3.5"),
    R("microsoft/Phi-3.5-MoE-instruct", "Phi", "41.9B", "6.6B", "instruct", PREF, experts=16, moe=True),
    R("microsoft/Phi-3.5-vision-instruct", "Phi", "4.2B", None, "vision", PREF, modality=VL),
    R("microsoft/phi-4", "Phi", "14B", None, "instruct", PREF, version="4"),
    R("microsoft/Phi-4-mini-instruct", "Phi", "3.8B", None, "instruct", PREF),
    R("microsoft/Phi-4-multimodal-instruct", "Phi", "5.6B", None, "other", PREF, modality="omni"),
    R("microsoft/Phi-3-mini-4k-instruct-gguf", "Phi", "3.8B", None, "instruct", PREF, file_format="gguf"),
    R("Phi-3-mini-4k-instruct-q4.gguf", "Phi", "3.8B", None, "instruct", PREF, "Q4"),
    # ---- DeepSeek
    R("deepseek-ai/DeepSeek-V3", "DeepSeek", "671B", "37B", "chat", PREF, experts=256, version="3"),
    R("deepseek-ai/DeepSeek-V3-Base", "DeepSeek", "671B", "37B", "base", PRE),
    R("deepseek-ai/DeepSeek-V3-0324", "DeepSeek", "671B", "37B", "chat", PREF, None, "2025-03"),
    R("deepseek-ai/DeepSeek-V3.1", "DeepSeek", "671B", "37B", "chat", PREF, version="3.1"),
    R("deepseek-ai/DeepSeek-R1", "DeepSeek", "671B", "37B", "reasoning", PREF, version="R1"),
    R("deepseek-ai/DeepSeek-R1-0528", "DeepSeek", "671B", "37B", "reasoning", PREF, None, "2025-05"),
    R("deepseek-ai/DeepSeek-R1-Zero", "DeepSeek", "671B", "37B", "reasoning", PREF),
    R("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "Qwen", "7B", None, "reasoning", DIST, moe=False),
    R("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "Qwen", "1.5B", None, "reasoning", DIST),
    R("deepseek-ai/DeepSeek-R1-Distill-Llama-70B", "Llama", "70B", None, "reasoning", DIST),
    R("deepseek-ai/DeepSeek-V2-Lite", "DeepSeek", "15.7B", "2.4B", "base", PRE, experts=64),
    R("deepseek-ai/DeepSeek-V2-Chat-0628", "DeepSeek", "236B", "21B", "chat", PREF, None, "2024-06"),
    R("deepseek-ai/DeepSeek-V2.5-1210", "DeepSeek", "236B", "21B", "chat", PREF, None, "2024-12", experts=160),
    R("deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct", "DeepSeek", "16B", "2.4B", "code", PREF),
    R("deepseek-ai/deepseek-coder-6.7b-instruct", "DeepSeek", "6.7B", None, "code", PREF),
    R("deepseek-ai/deepseek-llm-7b-base", "DeepSeek", "7B", None, "base", PRE),
    R("deepseek-ai/deepseek-llm-67b-chat", "DeepSeek", "67B", None, "chat", PREF),
    R("deepseek-ai/deepseek-moe-16b-base", "DeepSeek", "16.4B", "2.8B", "base", PRE, experts=64, moe=True),
    R("deepseek-ai/DeepSeek-Prover-V2-7B", "DeepSeek", "7B", None, "math", UNK),
    R("unsloth/DeepSeek-R1-GGUF", "DeepSeek", "671B", "37B", "reasoning", PREF, file_format="gguf"),
    R("DeepSeek-R1-UD-IQ1_S-00001-of-00003.gguf", "DeepSeek", "671B", "37B", "reasoning", PREF, "UD-IQ1_S"),
    # ---- OpenAI
    R("openai/gpt-oss-20b", "gpt-oss", "21B", "3.6B", "reasoning", PREF, experts=32, moe=True),
    R("openai/gpt-oss-120b", "gpt-oss", "117B", "5.1B", "reasoning", PREF, experts=128),
    R("openai-community/gpt2", "GPT-2", "124M", None, "base", PRE),
    R("openai-community/gpt2-medium", "GPT-2", "355M", None, "base", PRE),
    R("openai-community/gpt2-large", "GPT-2", "774M", None, "base", PRE),
    R("openai-community/gpt2-xl", "GPT-2", "1.5B", None, "base", PRE),
    R("distilbert/distilgpt2", "DistilGPT2", "82M", None, "base", DIST),
    R("openai/whisper-large-v3", "Whisper", "1550M", None, "other", UNK, version="3", modality="audio"),
    R("openai/whisper-large-v3-turbo", "Whisper", "809M", None, "other", UNK),
    R("openai/whisper-small", "Whisper", "244M", None, "other", UNK),
    R("openai/whisper-base", "Whisper", "74M", None, "other", UNK),
    R("openai/whisper-tiny.en", "Whisper", "39M", None, "other", UNK),
    R("distil-whisper/distil-large-v3", "Whisper", "756M", None, "other", DIST),
    R("openai/clip-vit-large-patch14", "CLIP", None, None, "embedding", UNK, modality=VL),
    R("gpt-4-1106-preview", "GPT-4", None, None, "chat", PREF, None, "2023-11"),
    R("gpt-4o-2024-08-06", "GPT-4", None, None, "chat", PREF, None, "2024-08", version="o"),
    R("gpt-3.5-turbo-0125", "GPT-3.5", None, None, "chat", PREF, None, "2024-01"),
    # ---- encoders and embedding models
    R("google-bert/bert-base-uncased", "BERT", "110M", None, "base", PRE),
    R("google-bert/bert-large-cased", "BERT", "340M", None, "base", PRE),
    R("FacebookAI/roberta-base", "RoBERTa", "125M", None, "base", PRE),
    R("FacebookAI/roberta-large", "RoBERTa", "355M", None, "base", PRE),
    R("FacebookAI/xlm-roberta-large", "XLM-RoBERTa", "561M", None, "base", PRE),
    R("distilbert/distilbert-base-uncased", "DistilBERT", "66M", None, "base", DIST),
    R("microsoft/deberta-v3-base", "DeBERTa", "184M", None, "base", PRE, version="3"),
    R("google-t5/t5-small", "T5", "60M", None, "base", PRE),
    R("google-t5/t5-base", "T5", "220M", None, "base", PRE),
    R("google-t5/t5-11b", "T5", "11B", None, "base", PRE),
    R("google/t5-v1_1-xxl", "T5", "11.3B", None, "base", PRE, version="1.1"),
    R("google/flan-t5-xl", "Flan-T5", "2.85B", None, "instruct", SFT),
    R("google/flan-t5-base", "Flan-T5", "248M", None, "instruct", SFT),
    R("BAAI/bge-large-en-v1.5", "BGE", "335M", None, "embedding", UNK, version="1.5"),
    R("BAAI/bge-small-en-v1.5", "BGE", "33.4M", None, "embedding", UNK),
    R("AI-ModelScope/bge-large-zh-v1.5", "BGE", "335M", None, "embedding", UNK),
    R("BAAI/bge-m3", "BGE", "568M", None, "embedding", UNK),
    R("BAAI/bge-reranker-v2-m3", "BGE", "568M", None, "reranker", UNK),
    R("sentence-transformers/all-MiniLM-L6-v2", "MiniLM", "22.7M", None, "embedding", UNK, version="2"),
    R("sentence-transformers/all-mpnet-base-v2", "MPNet", "109M", None, "embedding", UNK),
    R("intfloat/multilingual-e5-large", "E5", "560M", None, "embedding", UNK),
    R("intfloat/e5-large-v2", "E5", "335M", None, "embedding", UNK),
    R("nomic-ai/nomic-embed-text-v1.5", "Nomic Embed", "137M", None, "embedding", UNK, version="1.5"),
    R("Alibaba-NLP/gte-Qwen2-7B-instruct", "GTE", "7B", None, "embedding", UNK),
    # ---- other open LLM families
    R("tiiuae/falcon-7b", "Falcon", "7B", None, "base", PRE),
    R("tiiuae/falcon-40b-instruct", "Falcon", "40B", None, "instruct", PREF),
    R("tiiuae/falcon-180B", "Falcon", "180B", None, "base", PRE),
    R("tiiuae/Falcon3-7B-Instruct", "Falcon", "7B", None, "instruct", PREF, version="3"),
    R("bigscience/bloom-560m", "BLOOM", "560M", None, "base", PRE),
    R("bigscience/bloom-7b1", "BLOOM", "7.1B", None, "base", PRE),
    R("bigscience/bloom", "BLOOM", "176B", None, "base", PRE),
    R("bigscience/bloomz-7b1", "BLOOMZ", "7.1B", None, "instruct", SFT),
    R("EleutherAI/pythia-1.4b-deduped", "Pythia", "1.4B", None, "base", PRE),
    R("EleutherAI/pythia-70m", "Pythia", "70M", None, "base", PRE),
    R("EleutherAI/gpt-j-6b", "GPT-J", "6B", None, "base", PRE),
    R("EleutherAI/gpt-neox-20b", "GPT-NeoX", "20B", None, "base", PRE),
    R("EleutherAI/gpt-neo-1.3B", "GPT-Neo", "1.3B", None, "base", PRE),
    R("facebook/opt-125m", "OPT", "125M", None, "base", PRE),
    R("facebook/opt-66b", "OPT", "66B", None, "base", PRE),
    R("mosaicml/mpt-7b", "MPT", "7B", None, "base", PRE),
    R("mosaicml/mpt-7b-instruct", "MPT", "7B", None, "instruct", PREF),
    R("mosaicml/mpt-7b-8k", "MPT", "7B", None, "base", PRE, context_length=8192),
    R("bigcode/starcoder", "StarCoder", "15.5B", None, "code", PRE),
    R("bigcode/starcoder2-15b", "StarCoder", "15B", None, "code", PRE, version="2"),
    R("bigcode/starcoderbase-1b", "StarCoder", "1B", None, "code", PRE),
    R("01-ai/Yi-34B", "Yi", "34B", None, "base", PRE),
    R("01-ai/Yi-1.5-34B-Chat", "Yi", "34B", None, "chat", PREF, version="1.5"),
    R("01ai/Yi-6B-Chat", "Yi", "6B", None, "chat", PREF),
    R("internlm/internlm2_5-7b-chat", "InternLM", "7B", None, "chat", PREF, version="2.5"),
    R("internlm/internlm3-8b-instruct", "InternLM", "8B", None, "instruct", PREF, version="3"),
    R("Shanghai_AI_Laboratory/internlm2-chat-7b", "InternLM", "7B", None, "chat", PREF, version="2"),
    R("OpenGVLab/InternVL2_5-8B", "InternVL", "8B", None, "vision", UNK, version="2.5", modality=VL),
    R("OpenGVLab/InternVL3-8B", "InternVL", "8B", None, "vision", UNK, version="3"),
    R("THUDM/chatglm3-6b", "ChatGLM", "6B", None, "chat", PREF, version="3"),
    R("ZhipuAI/chatglm3-6b", "ChatGLM", "6B", None, "chat", PREF, org="ZhipuAI"),
    R("THUDM/glm-4-9b-chat", "GLM", "9B", None, "chat", PREF, version="4"),
    R("THUDM/glm-4-9b", "GLM", "9B", None, None, UNK),
    R("THUDM/GLM-4-32B-0414", "GLM", "32B", None, None, UNK, None, "2025-04"),
    R("zai-org/GLM-4.5", "GLM", "355B", "32B", "reasoning", PREF, version="4.5", moe=True),
    R("zai-org/GLM-4.5-Air", "GLM", "106B", "12B", "reasoning", PREF),
    R("THUDM/GLM-4.1V-9B-Thinking", "GLM", "9B", None, "vision", PREF, version="4.1", modality=VL),
    R("baichuan-inc/Baichuan2-13B-Chat", "Baichuan", "13B", None, "chat", PREF, version="2"),
    R("baichuan-inc/Baichuan2-7B-Base", "Baichuan", "7B", None, "base", PRE),
    R("allenai/OLMo-7B-0424-hf", "OLMo", "7B", None, "base", PRE, None, "2024-04"),
    R("allenai/OLMo-2-1124-7B-Instruct", "OLMo", "7B", None, "instruct", PREF, None, "2024-11", version="2"),
    R("allenai/OLMo-2-1124-13B-DPO", "OLMo", "13B", None, "instruct", PREF, None, "2024-11"),
    R("allenai/OLMoE-1B-7B-0924", "OLMoE", "6.9B", "1.3B", "base", PRE, None, "2024-09", experts=64),
    R("allenai/OLMoE-1B-7B-0924-Instruct", "OLMoE", "6.9B", "1.3B", "instruct", PREF, None, "2024-09"),
    R("HuggingFaceTB/SmolLM2-1.7B-Instruct", "SmolLM", "1.7B", None, "instruct", PREF, version="2"),
    R("HuggingFaceTB/SmolLM2-360M", "SmolLM", "360M", None, "base", PRE),
    R("HuggingFaceTB/SmolLM3-3B", "SmolLM", "3B", None, "reasoning", PREF, version="3"),
    R("lmsys/vicuna-7b-v1.5", "Vicuna", "7B", None, "chat", SFT, version="1.5"),
    R("ibm-granite/granite-3.0-3b-a800m-instruct", "Granite", "3B", "800M", "instruct", PREF, moe=True),
    R("ibm-granite/granite-3.1-8b-instruct", "Granite", "8B", None, "instruct", PREF, version="3.1"),
    R("CohereForAI/c4ai-command-r-08-2024", "Command R", None, None, None, UNK, None, "2024-08"),
    R("state-spaces/mamba-2.8b-hf", "Mamba", "2.8B", None, "base", PRE),
    R("ai21labs/Jamba-v0.1", "Jamba", "52B", "12B", "base", PRE, experts=16, version="0.1"),
    R("databricks/dbrx-instruct", "DBRX", "132B", "36B", "instruct", PREF, experts=16),
    R("xai-org/grok-1", "Grok", "314B", None, "base", PRE, experts=8, moe=True),
    R("Snowflake/snowflake-arctic-instruct", "Arctic", "480B", "17B", "instruct", PREF, experts=128),
    R("moonshotai/Kimi-K2-Instruct", "Kimi", "1T", "32B", "instruct", PREF, experts=384, version="K2"),
    R("moonshotai/Kimi-K2-Instruct-0905", "Kimi", "1T", "32B", "instruct", PREF, None, "2025-09"),
    R("tencent/Hunyuan-A13B-Instruct", "Hunyuan", "80B", "13B", "instruct", PREF),
    R("baidu/ERNIE-4.5-300B-A47B-PT", "ERNIE", "300B", "47B", None, UNK, version="4.5", moe=True),
    R("baidu/ERNIE-4.5-21B-A3B-Base-PT", "ERNIE", "21B", "3B", "base", PRE),
    R("LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct", "EXAONE", "7.8B", None, "instruct", PREF, version="3.5"),
    R("stabilityai/stablelm-2-1_6b", "StableLM", "1.6B", None, "base", PRE, version="2"),
    # ---- vision-language
    R("llava-hf/llava-1.5-7b-hf", "LLaVA", "7B", None, "vision", SFT, version="1.5", modality=VL),
    R("llava-hf/llava-v1.6-mistral-7b-hf", "LLaVA", "7B", None, "vision", SFT, version="1.6"),
    R("openbmb/MiniCPM-V-2_6", "MiniCPM-V", None, None, "vision", UNK, version="2.6"),
    R("OpenBMB/MiniCPM-o-2_6", "MiniCPM-o", None, None, "other", UNK, modality="omni"),
    R("microsoft/Florence-2-large", "Florence", "0.77B", None, "vision", UNK, version="2"),
    R("HuggingFaceTB/SmolVLM-Instruct", "SmolVLM", None, None, "vision", PREF),
    # ---- diffusion
    R("stabilityai/stable-diffusion-xl-base-1.0", "Stable Diffusion XL", None, None, "diffusion", PRE,
      version="1.0", modality="image"),
    R("AI-ModelScope/stable-diffusion-xl-base-1.0", "Stable Diffusion XL", None, None, "diffusion", PRE),
    R("runwayml/stable-diffusion-v1-5", "Stable Diffusion", None, None, "diffusion", UNK, version="1.5"),
    R("stabilityai/stable-diffusion-2-1", "Stable Diffusion", None, None, "diffusion", UNK, version="2.1"),
    R("stabilityai/stable-diffusion-3.5-large", "Stable Diffusion", "8.1B", None, "diffusion", UNK, version="3.5"),
    R("stabilityai/stable-diffusion-3-medium-diffusers", "Stable Diffusion", "2B", None, "diffusion", UNK,
      file_format="diffusers"),
    R("stabilityai/sdxl-turbo", "Stable Diffusion XL", None, None, "diffusion", DIST),
    R("black-forest-labs/FLUX.1-dev", "FLUX", "12B", None, "diffusion", DIST, version="1", modality="image"),
    R("black-forest-labs/FLUX.1-schnell", "FLUX", "12B", None, "diffusion", DIST),
    R("Wan-AI/Wan2.1-T2V-14B", "Wan", "14B", None, "diffusion", UNK, version="2.1", modality="video"),
    R("Wan-AI/Wan2.2-T2V-A14B", "Wan", "27B", "14B", "diffusion", UNK, experts=2),
]


@pytest.mark.parametrize("name, expected", CASES)
def test_reads_real_names(name: str, expected: dict) -> None:
    got = parse_name(name).to_dict()
    wrong = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    assert not wrong, f"{name}: (got, expected) {wrong}\nnotes: {got['notes']}"
    assert got["confidence"] > 0.5


def test_case_count() -> None:
    assert len(CASES) >= 150
    assert len({c.values[0] for c in CASES}) == len(CASES)


def test_issue_example_summary() -> None:
    info = parse_name("Qwen3-235B-A22B-Instruct-2507")
    assert "235B total, 22B active per token (MoE) · instruction-tuned (SFT → preference) · released 2025-07" in info.summary()
    assert info.total_parameters == 235_000_000_000 and info.active_parameters == 22_000_000_000


def test_stages_explained_in_summary() -> None:
    assert "base model" in parse_name("Qwen/Qwen2.5-7B").summary()
    assert "SFT only" in parse_name("allenai/Llama-3.1-Tulu-3-8B-SFT").summary()
    assert "distilled" in parse_name("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B").summary()
    assert "reasoning" in parse_name("openai/gpt-oss-20b").summary()


def test_distill_names_teacher_in_notes() -> None:
    info = parse_name("deepseek-ai/DeepSeek-R1-Distill-Llama-8B")
    assert info.family == "Llama" and info.training_stage == "distill"
    assert any("DeepSeek-R1" in note and "Llama" in note for note in info.notes)


def test_approximate_moe_total_is_flagged() -> None:
    info = parse_name("someone/Foo-4x7B")  # no known total: experts x size, flagged
    assert info.total_parameters == 28_000_000_000 and info.moe and info.experts == 4
    assert any(note.startswith("approximate") for note in info.notes)
    assert "≈28B" in info.summary()


def test_mixtral_known_total_notes_the_naive_product() -> None:
    info = parse_name("mistralai/Mixtral-8x7B-v0.1")
    assert any("56B" in note and "46.7B" in note for note in info.notes)


def test_mmdd_without_known_year_is_said_plainly() -> None:
    info = parse_name("deepseek-ai/DeepSeek-Foo-0707")  # no version: the year is unknown
    assert info.release is None
    assert any("year is not in the name" in note for note in info.notes)


def test_fine_tune_does_not_get_bare_convention() -> None:
    info = parse_name("cognitivecomputations/dolphin-2.9-llama3-8b")
    assert info.family == "Llama" and info.version == "3"
    assert info.training_stage == "unknown" and info.variant is None
    assert any("dolphin" in note for note in info.notes)


def test_url_and_ollama_forms() -> None:
    info = parse_name("https://huggingface.co/Qwen/Qwen2.5-7B-Instruct")
    assert (info.org, info.family, info.version, info.total_parameters) == ("Qwen", "Qwen", "2.5", 7_000_000_000)
    info = parse_name("https://modelscope.cn/models/qwen/Qwen2.5-7B-Instruct")
    assert info.org == "qwen" and info.variant == "instruct"
    info = parse_name("https://huggingface.co/bartowski/Llama-3.2-3B-Instruct-GGUF/blob/main/Llama-3.2-3B-Instruct-Q4_K_M.gguf")
    assert info.quantization == "Q4_K_M" and info.file_format == "gguf" and info.org == "bartowski"
    info = parse_name("llama3.1:8b")
    assert info.family == "Llama" and info.version == "3.1" and info.total_parameters == 8_000_000_000


def test_local_path_with_model_file() -> None:
    info = parse_name("/models/gguf/Qwen2.5-7B-Instruct-Q4_K_M.gguf")
    assert info.family == "Qwen" and info.quantization == "Q4_K_M" and info.org == "Qwen"


def test_split_part_note() -> None:
    info = parse_name("Llama-3.3-70B-Instruct-Q4_K_M-00002-of-00002.gguf")
    assert any("part 2 of 2" in note for note in info.notes)


@pytest.mark.parametrize("text", ["", "   ", "hello world", "/tmp/foo/bar", "asdf qwer zxcv", "!!!", "\x00\x1b[31m",
                                  "C:\\Users\\me\\Documents", "x" * 5000, "model.safetensors"])
def test_unparseable_input(text: str) -> None:
    info = parse_name(text)
    assert info.confidence == 0
    assert info.family is None and info.total_parameters is None
    assert any("not recognised" in note for note in info.notes)
    assert info.summary() == "not recognised as a model name"
    d = info.to_dict()
    assert d["schema"] == SCHEMA and d["confidence"] == 0
    json.dumps(d)


def test_schema_fields_and_values() -> None:
    fields = ["schema", "input", "org", "family", "version", "total_parameters", "active_parameters", "moe",
              "experts", "variant", "training_stage", "quantization", "file_format", "release",
              "context_length", "modality", "confidence", "notes"]
    for case in CASES:
        d = parse_name(case.values[0]).to_dict()
        assert list(d) == fields
        assert d["variant"] is None or d["variant"] in VARIANTS
        assert d["training_stage"] in TRAINING_STAGES
        assert 0 <= d["confidence"] <= 1
        assert d["total_parameters"] is None or isinstance(d["total_parameters"], int)


def test_frozen() -> None:
    info = parse_name("google/gemma-2-9b-it")
    assert isinstance(info, NameInfo)
    with pytest.raises(AttributeError):
        info.family = "x"  # type: ignore[misc]


def test_never_raises_on_odd_input() -> None:
    for text in ["a/b/c/d", "8x", "A22B", "v1.0", "2507", "-", "/", "Q4_K_M", "qwen" * 200, "ｑｗｅｎ３", "🦙-7b",
                 "org/", "/repo", "hf://", "x-00001-of-00002.gguf", "1e999b", "9" * 400 + "b", None]:
        info = parse_name(text)  # type: ignore[arg-type]
        json.dumps(info.to_dict())
        info.summary()


# ---------------------------------------------------------------- CLI

def _runner():
    from typer.testing import CliRunner

    import modellens.cli.cmd_name  # noqa: F401  (registers the command)
    from modellens.cli.app import app

    return CliRunner(), app


def test_cli_json_one_name() -> None:
    runner, app = _runner()
    result = runner.invoke(app, ["name", "--json", "Qwen/Qwen3-235B-A22B-Instruct-2507"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["schema"] == SCHEMA and d["total_parameters"] == 235_000_000_000 and d["release"] == "2025-07"


def test_cli_json_several_names() -> None:
    runner, app = _runner()
    result = runner.invoke(app, ["name", "--json", "google/gemma-2-9b-it", "nonsense words"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["schema"] == SCHEMA and [x["family"] for x in d["names"]] == ["Gemma", None]
    assert d["names"][1]["confidence"] == 0


def test_cli_human_output() -> None:
    runner, app = _runner()
    result = runner.invoke(app, ["name", "mistralai/Mixtral-8x7B-Instruct-v0.1", "/tmp/foo/bar"])
    assert result.exit_code == 0, result.output
    assert "46.7B total, 12.9B active per token (MoE)" in result.stdout
    assert "not recognised" in result.stdout


def test_cli_escapes_markup() -> None:
    runner, app = _runner()
    result = runner.invoke(app, ["name", "[bold red]Llama-3-8B[/bold red]"])
    assert result.exit_code == 0, result.output
    assert "[bold red]" in result.stdout
