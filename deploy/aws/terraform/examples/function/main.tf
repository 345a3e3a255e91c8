# Example: publish the layer with the module and attach it to a function,
# with the collector endpoint and the API key (read from Secrets Manager)
# in the function's environment.
#
#   make layer
#   terraform init && terraform apply -var collector_endpoint=collector.example.com:4317

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "collector_endpoint" {
  description = "Collector address, host:port (plaintext) or https://host[:port] (TLS)."
  type        = string
}

variable "api_key_secret_id" {
  description = "Name or ARN of the Secrets Manager secret holding the Ingest API key."
  type        = string
  default     = "lambdascope/api-key"
}

variable "function_zip" {
  description = "Zip of the function's bootstrap executable."
  type        = string
  default     = "../../../../../dist/example-function.zip"
}

variable "architecture" {
  description = "Architecture of the function (x86_64 or arm64)."
  type        = string
  default     = "arm64"
}

module "lambdascope_layer" {
  source = "../../lambdascope-layer"

  dist_dir      = "${path.module}/../../../../../dist"
  architectures = [var.architecture]
}

data "aws_secretsmanager_secret_version" "lambdascope_api_key" {
  secret_id = var.api_key_secret_id
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "lambdascope-example-function"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

resource "aws_iam_role_policy_attachment" "logs" {
  role       = aws_iam_role.function.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_lambda_function" "example" {
  function_name    = "lambdascope-example"
  role             = aws_iam_role.function.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  filename         = var.function_zip
  source_code_hash = filebase64sha256(var.function_zip)
  architectures    = [var.architecture]
  memory_size      = 256
  timeout          = 10
  layers           = [module.lambdascope_layer.layer_arns[var.architecture]]

  environment {
    variables = {
      LAMBDASCOPE_ENDPOINT = var.collector_endpoint
      LAMBDASCOPE_API_KEY  = data.aws_secretsmanager_secret_version.lambdascope_api_key.secret_string
    }
  }
}

output "function_arn" {
  description = "ARN of the example function."
  value       = aws_lambda_function.example.arn
}

output "layer_arn" {
  description = "ARN of the layer version attached to the function."
  value       = module.lambdascope_layer.layer_arns[var.architecture]
}
