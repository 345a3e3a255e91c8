// Package aws holds the templates that publish the Lambdascope extension
// layer on AWS and attach it to functions — CloudFormation/SAM, a Terraform
// module and a Serverless Framework example — and the tests that check
// their syntax and structure without an AWS account.
package aws
