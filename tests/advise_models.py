"""Model configs for the serve-plan tests (shapes from the models' published config.json)."""

QWEN3_8B = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 4096, "intermediate_size": 12288,
            "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
            "vocab_size": 151936, "max_position_embeddings": 40960, "tie_word_embeddings": False,
            "torch_dtype": "bfloat16", "rms_norm_eps": 1e-6}
LLAMA_31_70B = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672,
                "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256,
                "max_position_embeddings": 131072, "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
GLM_45_AIR = {"architectures": ["Glm4MoeForCausalLM"], "model_type": "glm4_moe", "hidden_size": 4096,
              "intermediate_size": 10944, "moe_intermediate_size": 1408, "num_hidden_layers": 46,
              "num_attention_heads": 96, "num_key_value_heads": 8, "head_dim": 128, "n_routed_experts": 128,
              "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 1, "vocab_size": 151552,
              "max_position_embeddings": 131072, "num_nextn_predict_layers": 1, "torch_dtype": "bfloat16",
              "partial_rotary_factor": 0.5, "attention_bias": True, "tie_word_embeddings": False}
MISTRAL_7B = {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336,
              "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32768,
              "max_position_embeddings": 32768, "torch_dtype": "bfloat16"}
QWEN25_7B_AWQ = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944,
                 "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
                 "max_position_embeddings": 32768, "torch_dtype": "float16", "tie_word_embeddings": False,
                 "quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True, "version": "gemm"}}
REMOTE_CODE = {**QWEN3_8B, "auto_map": {"AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"}}

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
