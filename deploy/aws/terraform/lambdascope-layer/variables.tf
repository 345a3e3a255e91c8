variable "name_prefix" {
  description = "Prefix of the layer names; each layer is <prefix>-<architecture>."
  type        = string
  default     = "lambdascope-extension"
}

variable "architectures" {
  description = "Lambda architectures to publish a layer for (x86_64, arm64)."
  type        = set(string)
  default     = ["x86_64", "arm64"]

  validation {
    condition     = length(var.architectures) > 0 && alltrue([for a in var.architectures : contains(["x86_64", "arm64"], a)])
    error_message = "architectures must hold x86_64 and/or arm64."
  }
}

variable "dist_dir" {
  description = "Directory holding lambdascope-extension-<architecture>.zip as built by `make layer`."
  type        = string
}

variable "compatible_runtimes" {
  description = "Runtimes the layer declares; the extension is a static binary and runs under any."
  type        = list(string)
  default     = ["provided.al2023", "provided.al2", "nodejs22.x", "python3.13", "java21"]
}

variable "license_info" {
  description = "License of the layer."
  type        = string
  default     = "Apache-2.0"
}
