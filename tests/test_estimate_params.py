"""Parameter counts from real config.json files, checked against transformers itself.

Each config in ``REAL`` below is the public config.json of a real model (trimmed to the fields
that shape the count; the other estimate tests import them from here).  A scaled-down
copy (same structure: head ratios, MoE layout, biases, norms, tying, vision tower) is built by
transformers on the meta device and its ``sum(p.numel() for p in model.parameters())`` must
equal ours exactly; the full-size configs are compared the same way (the meta device allocates
nothing; the big MoE ones are marked slow only because building 15k expert modules takes 15–30 s).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from modellens.estimate import attention_layout, count_parameters, lora_parameters, model_from_config

# --------------------------------------------------------------------------- real configs

LLAMA_3_1_8B = {  # meta-llama/Llama-3.1-8B
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "attention_bias": False,
    "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 131072,
    "mlp_bias": False, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "vocab_size": 128256,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
}
LLAMA_2_7B = {  # meta-llama/Llama-2-7b-hf
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 11008, "max_position_embeddings": 4096, "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 32, "rms_norm_eps": 1e-05,
    "tie_word_embeddings": False, "torch_dtype": "float16", "vocab_size": 32000,
}
LLAMA_3_2_1B = {  # meta-llama/Llama-3.2-1B
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "head_dim": 64, "hidden_size": 2048,
    "intermediate_size": 8192, "max_position_embeddings": 131072, "num_attention_heads": 32,
    "num_hidden_layers": 16, "num_key_value_heads": 8, "tie_word_embeddings": True,
    "torch_dtype": "bfloat16", "vocab_size": 128256, "rope_theta": 500000.0,
}
MISTRAL_7B_V01 = {  # mistralai/Mistral-7B-v0.1
    "architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 4096,
    "intermediate_size": 14336, "max_position_embeddings": 32768, "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "sliding_window": 4096,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "vocab_size": 32000,
}
MIXTRAL_8X7B = {  # mistralai/Mixtral-8x7B-v0.1
    "architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": 4096,
    "intermediate_size": 14336, "max_position_embeddings": 32768, "num_attention_heads": 32,
    "num_experts_per_tok": 2, "num_hidden_layers": 32, "num_key_value_heads": 8, "num_local_experts": 8,
    "rope_theta": 1e6, "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "vocab_size": 32000,
}
QWEN2_5_7B = {  # Qwen/Qwen2.5-7B-Instruct
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 3584,
    "intermediate_size": 18944, "max_position_embeddings": 32768, "max_window_layers": 28,
    "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4, "rope_theta": 1e6,
    "sliding_window": 131072, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "use_sliding_window": False, "vocab_size": 152064,
}
QWEN2_5_0_5B = {  # Qwen/Qwen2.5-0.5B-Instruct
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896,
    "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 21,
    "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
    "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
    "use_sliding_window": False, "vocab_size": 151936,
}
QWEN3_0_6B = {  # Qwen/Qwen3-0.6B
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "attention_bias": False, "head_dim": 128,
    "hidden_size": 1024, "intermediate_size": 3072, "max_position_embeddings": 40960,
    "max_window_layers": 28, "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
    "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
    "use_sliding_window": False, "vocab_size": 151936,
}
QWEN3_1_7B = {**QWEN3_0_6B, "hidden_size": 2048, "intermediate_size": 6144}  # Qwen/Qwen3-1.7B
QWEN3_4B = {**QWEN3_0_6B, "hidden_size": 2560, "intermediate_size": 9728, "num_attention_heads": 32,
            "num_hidden_layers": 36, "max_window_layers": 36}  # Qwen/Qwen3-4B
QWEN3_8B = {**QWEN3_0_6B, "hidden_size": 4096, "intermediate_size": 12288, "num_attention_heads": 32,
            "num_hidden_layers": 36, "max_window_layers": 36, "tie_word_embeddings": False}  # Qwen/Qwen3-8B
QWEN3_14B = {**QWEN3_8B, "hidden_size": 5120, "intermediate_size": 17408, "num_attention_heads": 40,
             "num_hidden_layers": 40, "max_window_layers": 40}  # Qwen/Qwen3-14B
QWEN3_32B = {**QWEN3_8B, "hidden_size": 5120, "intermediate_size": 25600, "num_attention_heads": 64,
             "num_hidden_layers": 64, "max_window_layers": 64}  # Qwen/Qwen3-32B
QWEN3_30B_A3B = {  # Qwen/Qwen3-30B-A3B
    "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "attention_bias": False,
    "decoder_sparse_step": 1, "head_dim": 128, "hidden_size": 2048, "intermediate_size": 6144,
    "max_position_embeddings": 40960, "max_window_layers": 48, "mlp_only_layers": [],
    "moe_intermediate_size": 768, "norm_topk_prob": True, "num_attention_heads": 32, "num_experts": 128,
    "num_experts_per_tok": 8, "num_hidden_layers": 48, "num_key_value_heads": 4, "rope_theta": 1000000.0,
    "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "use_sliding_window": False, "vocab_size": 151936,
}
QWEN2_MOE_A2_7B = {  # Qwen/Qwen1.5-MoE-A2.7B
    "architectures": ["Qwen2MoeForCausalLM"], "model_type": "qwen2_moe", "decoder_sparse_step": 1,
    "hidden_size": 2048, "intermediate_size": 5632, "max_position_embeddings": 8192,
    "moe_intermediate_size": 1408, "num_attention_heads": 16, "num_experts": 60, "num_experts_per_tok": 4,
    "num_hidden_layers": 24, "num_key_value_heads": 16, "shared_expert_intermediate_size": 5632,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "vocab_size": 151936,
    "use_sliding_window": False, "sliding_window": 32768, "max_window_layers": 21,
}
QWEN2_VL_7B = {  # Qwen/Qwen2-VL-7B-Instruct
    "architectures": ["Qwen2VLForConditionalGeneration"], "model_type": "qwen2_vl",
    "hidden_size": 3584, "intermediate_size": 18944, "max_position_embeddings": 32768,
    "max_window_layers": 28, "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
    "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "use_sliding_window": False, "vocab_size": 152064,
    "vision_config": {"depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3,
                      "hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
}
QWEN2_5_VL_7B = {  # Qwen/Qwen2.5-VL-7B-Instruct
    "architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl",
    "hidden_size": 3584, "intermediate_size": 18944, "max_position_embeddings": 128000,
    "max_window_layers": 28, "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
    "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "use_sliding_window": False, "vocab_size": 152064,
    "vision_config": {"depth": 32, "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420,
                      "num_heads": 16, "in_chans": 3, "out_hidden_size": 3584, "patch_size": 14,
                      "spatial_merge_size": 2, "spatial_patch_size": 14, "window_size": 112,
                      "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2,
                      "temporal_patch_size": 2},
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
}
DEEPSEEK_V3 = {  # deepseek-ai/DeepSeek-V3
    "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "attention_bias": False,
    "first_k_dense_replace": 3, "hidden_size": 7168, "intermediate_size": 18432, "kv_lora_rank": 512,
    "max_position_embeddings": 163840, "moe_intermediate_size": 2048, "moe_layer_freq": 1,
    "n_group": 8, "n_routed_experts": 256, "n_shared_experts": 1, "norm_topk_prob": True,
    "num_attention_heads": 128, "num_experts_per_tok": 8, "num_hidden_layers": 61,
    "num_key_value_heads": 128, "num_nextn_predict_layers": 1, "q_lora_rank": 1536,
    "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "rope_theta": 10000, "routed_scaling_factor": 2.5,
    "tie_word_embeddings": False, "topk_group": 4, "torch_dtype": "bfloat16", "v_head_dim": 128,
    "vocab_size": 129280,
}
DEEPSEEK_V2_LITE = {  # deepseek-ai/DeepSeek-V2-Lite
    "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2", "attention_bias": False,
    "first_k_dense_replace": 1, "hidden_size": 2048, "intermediate_size": 10944, "kv_lora_rank": 512,
    "max_position_embeddings": 163840, "moe_intermediate_size": 1408, "moe_layer_freq": 1,
    "n_routed_experts": 64, "n_shared_experts": 2, "num_attention_heads": 16, "num_experts_per_tok": 6,
    "num_hidden_layers": 27, "num_key_value_heads": 16, "q_lora_rank": None, "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64, "tie_word_embeddings": False, "torch_dtype": "bfloat16", "v_head_dim": 128,
    "vocab_size": 102400, "topk_method": "greedy", "n_group": 1, "topk_group": 1,
}
GEMMA_7B = {  # google/gemma-7b
    "architectures": ["GemmaForCausalLM"], "model_type": "gemma", "head_dim": 256, "hidden_size": 3072,
    "intermediate_size": 24576, "max_position_embeddings": 8192, "num_attention_heads": 16,
    "num_hidden_layers": 28, "num_key_value_heads": 16, "torch_dtype": "bfloat16", "vocab_size": 256000,
}
GEMMA2_9B = {  # google/gemma-2-9b
    "architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", "head_dim": 256, "hidden_size": 3584,
    "intermediate_size": 14336, "max_position_embeddings": 8192, "num_attention_heads": 16,
    "num_hidden_layers": 42, "num_key_value_heads": 8, "sliding_window": 4096,
    "query_pre_attn_scalar": 256, "torch_dtype": "float32", "vocab_size": 256000,
}
GEMMA3_1B = {  # google/gemma-3-1b-it
    "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "head_dim": 256,
    "hidden_size": 1152, "intermediate_size": 6912, "max_position_embeddings": 32768,
    "num_attention_heads": 4, "num_hidden_layers": 26, "num_key_value_heads": 1,
    "query_pre_attn_scalar": 256, "rope_local_base_freq": 10000, "rope_theta": 1000000,
    "sliding_window": 512, "sliding_window_pattern": 6, "torch_dtype": "bfloat16", "vocab_size": 262144,
}
GEMMA3_4B = {  # google/gemma-3-4b-it
    "architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3", "mm_tokens_per_image": 256,
    "text_config": {"model_type": "gemma3_text", "head_dim": 256, "hidden_size": 2560,
                    "intermediate_size": 10240, "num_attention_heads": 8, "num_hidden_layers": 34,
                    "num_key_value_heads": 4, "sliding_window": 1024, "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                    "query_pre_attn_scalar": 256, "vocab_size": 262208},
    "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 1152, "image_size": 896,
                      "intermediate_size": 4304, "num_attention_heads": 16, "num_hidden_layers": 27,
                      "patch_size": 14, "vision_use_head": False},
    "torch_dtype": "bfloat16",
}
PHI3_MINI = {  # microsoft/Phi-3-mini-4k-instruct
    "architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": 3072,
    "intermediate_size": 8192, "max_position_embeddings": 4096, "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 32, "original_max_position_embeddings": 4096,
    "sliding_window": 2047, "tie_word_embeddings": False, "torch_dtype": "bfloat16", "vocab_size": 32064,
}
GLM4_9B_0414 = {  # THUDM/GLM-4-9B-0414
    "architectures": ["Glm4ForCausalLM"], "model_type": "glm4", "attention_bias": True, "head_dim": 128,
    "hidden_size": 4096, "intermediate_size": 13696, "max_position_embeddings": 32768,
    "num_attention_heads": 32, "num_hidden_layers": 40, "num_key_value_heads": 2,
    "partial_rotary_factor": 0.5, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "vocab_size": 151552,
}
GLM4_5_AIR = {  # zai-org/GLM-4.5-Air
    "architectures": ["Glm4MoeForCausalLM"], "model_type": "glm4_moe", "attention_bias": True,
    "first_k_dense_replace": 1, "head_dim": 128, "hidden_size": 4096, "intermediate_size": 10944,
    "max_position_embeddings": 131072, "moe_intermediate_size": 1408, "n_group": 1, "n_routed_experts": 128,
    "n_shared_experts": 1, "norm_topk_prob": True, "num_attention_heads": 96, "num_experts_per_tok": 8,
    "num_hidden_layers": 46, "num_key_value_heads": 8, "num_nextn_predict_layers": 1,
    "partial_rotary_factor": 0.5, "routed_scaling_factor": 1.0, "tie_word_embeddings": False,
    "topk_group": 1, "torch_dtype": "bfloat16", "use_qk_norm": False, "vocab_size": 151552,
}
GPT_OSS_20B = {  # openai/gpt-oss-20b
    "architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss", "attention_bias": True, "head_dim": 64,
    "hidden_size": 2880, "intermediate_size": 2880, "max_position_embeddings": 131072,
    "num_attention_heads": 64, "num_experts_per_tok": 4, "num_hidden_layers": 24, "num_key_value_heads": 8,
    "num_local_experts": 32, "sliding_window": 128, "tie_word_embeddings": False, "vocab_size": 201088,
    "layer_types": ["sliding_attention", "full_attention"] * 12, "experts_per_token": 4,
    "rope_scaling": {"beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0,
                     "original_max_position_embeddings": 4096, "rope_type": "yarn", "truncate": False},
    "quantization_config": {"modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router",
                                                       "model.embed_tokens", "lm_head"], "quant_method": "mxfp4"},
}
OLMO_7B = {  # allenai/OLMo-7B-0424-hf
    "architectures": ["OlmoForCausalLM"], "model_type": "olmo", "attention_bias": False, "clip_qkv": 8.0,
    "hidden_size": 4096, "intermediate_size": 11008, "max_position_embeddings": 4096,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
    "tie_word_embeddings": False, "torch_dtype": "float32", "vocab_size": 50304,
}
OLMO2_7B = {  # allenai/OLMo-2-1124-7B
    "architectures": ["Olmo2ForCausalLM"], "model_type": "olmo2", "attention_bias": False,
    "hidden_size": 4096, "intermediate_size": 11008, "max_position_embeddings": 4096,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
    "tie_word_embeddings": False, "torch_dtype": "float32", "vocab_size": 100352,
}
FALCON_7B = {  # tiiuae/falcon-7b
    "architectures": ["FalconForCausalLM"], "model_type": "falcon", "alibi": False, "bias": False,
    "hidden_size": 4544, "multi_query": True, "new_decoder_architecture": False,
    "num_attention_heads": 71, "num_hidden_layers": 32, "parallel_attn": True,
    "torch_dtype": "bfloat16", "vocab_size": 65024,
}
FALCON_40B = {  # tiiuae/falcon-40b
    "architectures": ["FalconForCausalLM"], "model_type": "falcon", "alibi": False, "bias": False,
    "hidden_size": 8192, "new_decoder_architecture": True, "num_attention_heads": 128,
    "num_hidden_layers": 60, "num_kv_heads": 8, "parallel_attn": True, "torch_dtype": "bfloat16",
    "vocab_size": 65024,
}
GPT2 = {  # openai-community/gpt2
    "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768,
    "n_head": 12, "n_layer": 12, "n_positions": 1024, "vocab_size": 50257,
}
BERT_BASE = {  # google-bert/bert-base-uncased
    "architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_size": 768,
    "intermediate_size": 3072, "max_position_embeddings": 512, "num_attention_heads": 12,
    "num_hidden_layers": 12, "type_vocab_size": 2, "vocab_size": 30522,
}
T5_BASE = {  # google-t5/t5-base
    "architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "d_ff": 3072, "d_kv": 64,
    "d_model": 768, "num_heads": 12, "num_layers": 12, "relative_attention_num_buckets": 32,
    "vocab_size": 32128,
}
FLAN_T5_BASE = {  # google/flan-t5-base
    "architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "d_ff": 2048, "d_kv": 64,
    "d_model": 768, "feed_forward_proj": "gated-gelu", "num_decoder_layers": 12, "num_heads": 12,
    "num_layers": 12, "relative_attention_num_buckets": 32, "tie_word_embeddings": False, "vocab_size": 32128,
}
WHISPER_SMALL = {  # openai/whisper-small
    "architectures": ["WhisperForConditionalGeneration"], "model_type": "whisper", "d_model": 768,
    "decoder_attention_heads": 12, "decoder_ffn_dim": 3072, "decoder_layers": 12,
    "encoder_attention_heads": 12, "encoder_ffn_dim": 3072, "encoder_layers": 12,
    "max_source_positions": 1500, "max_target_positions": 448, "num_mel_bins": 80, "vocab_size": 51865,
}
LLAMA4_SCOUT = {  # meta-llama/Llama-4-Scout-17B-16E-Instruct
    "architectures": ["Llama4ForConditionalGeneration"], "model_type": "llama4",
    "text_config": {"model_type": "llama4_text", "attention_bias": False, "head_dim": 128,
                    "hidden_size": 5120, "interleave_moe_layer_step": 1, "intermediate_size": 8192,
                    "intermediate_size_mlp": 16384, "max_position_embeddings": 10485760,
                    "num_attention_heads": 40, "num_experts_per_tok": 1, "num_hidden_layers": 48,
                    "num_key_value_heads": 8, "num_local_experts": 16, "rope_theta": 500000.0,
                    "use_qk_norm": True, "vocab_size": 202048, "tie_word_embeddings": False,
                    "no_rope_layers": [], "attention_chunk_size": 8192},
    "vision_config": {"model_type": "llama4_vision_model", "hidden_size": 1408, "image_size": 336,
                      "intermediate_size": 5632, "num_attention_heads": 16, "num_hidden_layers": 34,
                      "patch_size": 14, "pixel_shuffle_ratio": 0.5, "projector_input_dim": 4096,
                      "projector_output_dim": 4096, "vision_output_dim": 4096, "num_channels": 3,
                      "rope_theta": 10000, "vision_feature_layer": -1, "vision_feature_select_strategy": "default"},
    "tie_word_embeddings": False,
}
LLAMA4_MAVERICK_TEXT = {  # meta-llama/Llama-4-Maverick-17B-128E-Instruct (text_config)
    "model_type": "llama4_text", "attention_bias": False, "head_dim": 128, "hidden_size": 5120,
    "interleave_moe_layer_step": 2, "intermediate_size": 8192, "intermediate_size_mlp": 16384,
    "num_attention_heads": 40, "num_experts_per_tok": 1, "num_hidden_layers": 48,
    "num_key_value_heads": 8, "num_local_experts": 128, "use_qk_norm": True, "vocab_size": 202048,
    "tie_word_embeddings": False, "no_rope_layers": [],
}

# name -> (config, the AutoModel class transformers builds for it)
REAL: dict[str, tuple[dict[str, Any], str]] = {
    "Llama-3.1-8B": (LLAMA_3_1_8B, "causal"), "Llama-2-7b": (LLAMA_2_7B, "causal"),
    "Llama-3.2-1B": (LLAMA_3_2_1B, "causal"), "Mistral-7B-v0.1": (MISTRAL_7B_V01, "causal"),
    "Mixtral-8x7B": (MIXTRAL_8X7B, "causal"), "Qwen2.5-7B": (QWEN2_5_7B, "causal"),
    "Qwen2.5-0.5B": (QWEN2_5_0_5B, "causal"), "Qwen3-0.6B": (QWEN3_0_6B, "causal"),
    "Qwen3-8B": (QWEN3_8B, "causal"), "Qwen3-30B-A3B": (QWEN3_30B_A3B, "causal"),
    "Qwen1.5-MoE-A2.7B": (QWEN2_MOE_A2_7B, "causal"), "Qwen2-VL-7B": (QWEN2_VL_7B, "vl"),
    "Qwen2.5-VL-7B": (QWEN2_5_VL_7B, "vl"), "DeepSeek-V3": (DEEPSEEK_V3, "causal"),
    "DeepSeek-V2-Lite": (DEEPSEEK_V2_LITE, "causal"), "gemma-7b": (GEMMA_7B, "causal"),
    "gemma-2-9b": (GEMMA2_9B, "causal"), "gemma-3-1b": (GEMMA3_1B, "causal"),
    "gemma-3-4b": (GEMMA3_4B, "vl"), "Phi-3-mini": (PHI3_MINI, "causal"),
    "GLM-4-9B-0414": (GLM4_9B_0414, "causal"), "GLM-4.5-Air": (GLM4_5_AIR, "causal"),
    "gpt-oss-20b": (GPT_OSS_20B, "causal"), "OLMo-7B": (OLMO_7B, "causal"), "OLMo-2-7B": (OLMO2_7B, "causal"),
    "falcon-7b": (FALCON_7B, "causal"), "falcon-40b": (FALCON_40B, "causal"), "gpt2": (GPT2, "causal"),
    "bert-base": (BERT_BASE, "base"), "t5-base": (T5_BASE, "seq2seq"), "flan-t5-base": (FLAN_T5_BASE, "seq2seq"),
    "whisper-small": (WHISPER_SMALL, "speech"), "Llama-4-Scout": (LLAMA4_SCOUT, "vl"),
    "Llama-4-Maverick-text": (LLAMA4_MAVERICK_TEXT, "causal"),
}

# Published parameter counts (model cards) that the full-size configs must reproduce.
PUBLISHED = {
    "Llama-3.1-8B": 8_030_261_248, "Qwen3-30B-A3B": 30_532_122_624, "DeepSeek-V3": 671_026_419_200,
    "gpt2": 124_439_808, "bert-base": 109_482_240, "Mixtral-8x7B": 46_702_792_704,
}

_SIZE_KEYS = {
    "hidden_size": 64, "n_embd": 64, "d_model": 64, "intermediate_size": 96, "n_inner": None,
    "moe_intermediate_size": 32, "shared_expert_intermediate_size": 48, "intermediate_size_mlp": 128,
    "vocab_size": 512, "num_hidden_layers": 4, "n_layer": 2, "num_layers": 2, "num_decoder_layers": 2,
    "encoder_layers": 2, "decoder_layers": 2, "d_ff": 96, "encoder_ffn_dim": 96, "decoder_ffn_dim": 96,
    "max_position_embeddings": 256, "n_positions": 128, "max_source_positions": 64, "max_target_positions": 32,
}


def scaled(cfg: dict[str, Any]) -> dict[str, Any]:
    """A small copy of ``cfg`` with the same structure (head counts, ratios, flags)."""
    c = copy.deepcopy(cfg)

    def shrink(d: dict[str, Any]) -> None:
        heads = d.get("num_attention_heads")
        kv = d.get("num_key_value_heads", d.get("num_kv_heads"))
        for k, v in _SIZE_KEYS.items():
            if k in d and v is not None:
                d[k] = v
        if isinstance(heads, int):
            d["num_attention_heads"] = 4 if heads % 4 == 0 or not isinstance(kv, int) else heads
            if isinstance(kv, int):
                nk = 1 if kv == 1 else 2 if kv < heads else 4
                d["num_key_value_heads" if "num_key_value_heads" in d else "num_kv_heads"] = nk
        if d.get("head_dim"):
            d["head_dim"] = 16
        for k in ("num_local_experts", "num_experts", "n_routed_experts"):
            if d.get(k):
                d[k] = 8
        if d.get("num_experts_per_tok"):
            d["num_experts_per_tok"] = min(2, d["num_experts_per_tok"])
            if "experts_per_token" in d:
                d["experts_per_token"] = d["num_experts_per_tok"]
        for k, v in (("q_lora_rank", 24), ("kv_lora_rank", 16), ("qk_nope_head_dim", 8),
                     ("qk_rope_head_dim", 8), ("v_head_dim", 8), ("first_k_dense_replace", 1)):
            if d.get(k):
                d[k] = v
        if d.get("n_group"):
            d["n_group"], d["topk_group"] = 1, 1
        if "layer_types" in d:
            d["layer_types"] = d["layer_types"][: d.get("num_hidden_layers", 4)]
        if d.get("max_window_layers"):
            d["max_window_layers"] = 2
        if d.get("sliding_window"):
            d["sliding_window"] = 16

    shrink(c)
    for k in ("n_head", "encoder_attention_heads", "decoder_attention_heads", "num_heads"):
        if isinstance(c.get(k), int):
            c[k] = 4
    c["pad_token_id"] = None
    if c.get("model_type") == "falcon" and not c.get("new_decoder_architecture"):
        c["num_attention_heads"] = 4
    for k in ("text_config",):
        if isinstance(c.get(k), dict):
            shrink(c[k])
    v = c.get("vision_config")
    if isinstance(v, dict):
        v.update({k: x for k, x in (("depth", 2), ("num_hidden_layers", 2), ("embed_dim", 32),
                                    ("intermediate_size", 48), ("num_heads", 4), ("num_attention_heads", 4))
                  if k in v})
        if "hidden_size" in v:
            v["hidden_size"] = 32 if "embed_dim" not in v else c.get("hidden_size", 64)
        if "out_hidden_size" in v:
            v["out_hidden_size"] = c["hidden_size"]
        if "image_size" in v:
            v["image_size"], v["patch_size"] = 56, 14
        if "projector_input_dim" in v:
            v.update(projector_input_dim=64, projector_output_dim=64, vision_output_dim=64, intermediate_size=64)
        if "fullatt_block_indexes" in v:
            v["fullatt_block_indexes"] = [1]
    if c.get("model_type") == "gemma3":
        c["mm_tokens_per_image"] = 4
    return c

# --------------------------------------------------------------------------- tests

_AUTO = {"causal": "AutoModelForCausalLM", "vl": "AutoModelForImageTextToText", "base": "AutoModel",
         "seq2seq": "AutoModelForSeq2SeqLM", "speech": "AutoModelForSpeechSeq2Seq"}
_SLOW = {"DeepSeek-V3", "GLM-4.5-Air", "Qwen3-30B-A3B", "Qwen1.5-MoE-A2.7B", "DeepSeek-V2-Lite"}


def _reference(cfg: dict, kind: str) -> int:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    config = transformers.AutoConfig.for_model(**cfg)
    auto = getattr(transformers, _AUTO[kind])
    with torch.device("meta"):
        model = auto.from_config(config)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list(REAL))
def test_scaled_config_matches_transformers(name):
    cfg, kind = REAL[name]
    small = scaled(cfg)
    assert count_parameters(small).total == _reference(small, kind)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in _SLOW else n for n in REAL])
def test_full_config_matches_transformers(name):
    cfg, kind = REAL[name]
    assert count_parameters(cfg).total == _reference(cfg, kind)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_counts(name):
    pc = count_parameters(REAL[name][0])
    expected = PUBLISHED[name]
    # DeepSeek-V3's 671,026,419,200 in its safetensors index counts the 58 × 256 router
    # correction biases, which transformers registers as buffers.
    got = pc.total + pc.checkpoint_extra.get("router_correction_bias", 0)
    assert got == expected


def test_moe_active_parameters():
    qwen = count_parameters(REAL["Qwen3-30B-A3B"][0])
    assert qwen.total == 30_532_122_624 and 3.2e9 < qwen.active < 3.5e9  # "A3B": 3.3B active
    ds = count_parameters(REAL["DeepSeek-V3"][0])
    assert 36.5e9 < ds.active < 38e9  # 37B activated
    assert 11e9 < ds.checkpoint_extra["mtp_layers"] < 12.5e9  # the MTP module (with the shared head: 14B)
    oss = count_parameters(REAL["gpt-oss-20b"][0])
    # OpenAI's "3.6B active" leaves out the embedding table (a lookup, not a matmul)
    assert 3.55e9 < oss.active - oss.components["embeddings"] < 3.65e9
    mix = count_parameters(REAL["Mixtral-8x7B"][0])
    assert 12.8e9 < mix.active < 13.0e9  # 12.9B active
    scout = count_parameters(REAL["Llama-4-Scout"][0])
    assert 17e9 < scout.active < 17.3e9 + scout.components["vision"] + scout.components["projector"]


def test_tied_embeddings_counted_once():
    tied = count_parameters(REAL["Llama-3.2-1B"][0])
    assert tied.tied_embeddings and "lm_head" not in tied.components
    untied = count_parameters({**REAL["Llama-3.2-1B"][0], "tie_word_embeddings": False})
    assert untied.total - tied.total == 128256 * 2048


def test_vision_tower_reported():
    pc = count_parameters(REAL["Qwen2.5-VL-7B"][0])
    assert 0.6e9 < pc.components["vision"] < 0.7e9
    assert any("vision" in n for n in pc.notes)


def test_unknown_architecture_is_flagged_approximate():
    cfg = {**REAL["Llama-3.1-8B"][0], "model_type": "brand_new_lm"}
    pc = count_parameters(cfg)
    assert not pc.exact and pc.total == count_parameters(REAL["Llama-3.1-8B"][0]).total
    assert "approximate" in pc.notes[0]
    with pytest.raises(KeyError):
        count_parameters({"model_type": "mystery"})


def test_attention_layouts():
    assert attention_layout(REAL["bert-base"][0]) is None
    gemma2 = attention_layout(REAL["gemma-2-9b"][0])
    assert {(n, k) for n, k, _, _ in gemma2.groups} == {(21, "full"), (21, "sliding")}
    qwen = attention_layout(REAL["Qwen2.5-7B"][0])  # use_sliding_window false: all full
    assert qwen.groups == ((28, "full", 2 * 4 * 128, None),)


@pytest.mark.parametrize("name,targets", [
    ("Llama-3.1-8B", ["q_proj", "v_proj"]), ("Llama-3.1-8B", "all-linear"), ("Qwen3-8B", "all-linear"),
    ("Mixtral-8x7B", "all-linear"), ("Phi-3-mini", "all-linear"), ("Qwen3-30B-A3B", ["q_proj", "down_proj"]),
    ("DeepSeek-V2-Lite", "all-linear"), ("GLM-4-9B-0414", "all-linear"), ("Qwen1.5-MoE-A2.7B", "all-linear"),
])
def test_lora_count_matches_peft(name, targets):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    cfg, kind = REAL[name]
    small = scaled(cfg)
    transformers.logging.set_verbosity_error()
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.for_model(**small))
    lora = peft.get_peft_model(model, peft.LoraConfig(r=8, target_modules=targets))
    expected = sum(p.numel() for n, p in lora.named_parameters() if "lora_" in n)
    ours, _ = lora_parameters(model_from_config(small), 8, targets)
    assert ours == expected
