"""Deployment configuration: settings sources, catalogs and validation rules."""

from deploy_config.errors import ConfigError, Problem
from deploy_config.plan import Deployment, plan_deployment
from deploy_config.settings import DeploymentConfig, load_config, shipped_stages

__all__ = [
    "ConfigError",
    "Deployment",
    "DeploymentConfig",
    "Problem",
    "load_config",
    "plan_deployment",
    "shipped_stages",
]
