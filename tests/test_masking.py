"""masking.mask_secrets: what it hides (given secrets, URL passwords) and what it leaves."""
import subprocess
import sys
from pathlib import Path

import luigi_tasks
from luigi_tasks.masking import mask_secrets


def test_a_url_password_is_masked_and_its_user_kept():
    text = "MLflow at https://etl:s3cret@mlflow.example:5000/api is down; also http://bob:pw@[::1]/x"
    assert mask_secrets(text) == "MLflow at https://etl:***@mlflow.example:5000/api is down; also http://bob:***@[::1]/x"


def test_a_url_without_credentials_or_with_a_user_only_is_unchanged():
    text = "see http://127.0.0.1:8123/ and sqlite:///data/mlflow.db and http://bob@host/x"
    assert mask_secrets(text) == text


def test_a_given_secret_is_masked_wherever_it_stands():
    text = "auth failed for default:Pw-1:@/?#% (password Pw-1:@/?#%)"
    assert mask_secrets(text, "Pw-1:@/?#%") == "auth failed for default:*** (password ***)"


def test_several_secrets_and_a_url_together():
    assert mask_secrets("a=one b=two http://u:three@h/", "one", "two") == "a=*** b=*** http://u:***@h/"


def test_an_empty_secret_masks_nothing():
    text = "cannot connect to ClickHouse at 127.0.0.1:8123 as 'default': ConnectionRefusedError"
    assert mask_secrets(text, "") == text
    assert mask_secrets("", "") == ""


def test_the_mlflow_writer_masks_with_the_same_function():
    """The writer runs as a script (python -P): it loads masking.py by path, never the package."""
    writer = Path(luigi_tasks.__file__).with_name("mlflow_writer.py")
    code = (f"import runpy, sys; found = runpy.run_path({str(writer)!r}); "
            "print(found['mask_secrets']('x http://u:pw@h/ y')); "
            "assert 'luigi' not in sys.modules and 'luigi_tasks' not in sys.modules")
    out = subprocess.run([sys.executable, "-P", "-c", code], check=True, capture_output=True, text=True).stdout
    assert out == "x http://u:***@h/ y\n"
